"""`{{name}}`: one request and two checks per iteration, then a pause. Built for shared isolation:
many VUs run as concurrent async calls in one interpreter (`isolation = "shared"` in plan.toml).

Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).

Inside `init` and `iteration`, `await` the `*_async` calls (`get_async`, `sleep_ms_async`, ...): they
suspend only this VU. The blocking `get` and `sleep_ms` stall every VU of the instance. Module globals
are shared by the instance's VUs; keep per-VU state on `self`.
"""

import stampede
from stampede import check

# The exported interface's setup/teardown: the defaults (no setup data, nothing to tear down).
from stampede import SharedRunner  # noqa: F401  (componentize-py looks it up in this module)


class Vu(stampede.SharedVu):
    """One virtual user: `init` runs once per VU, `iteration` in a loop. `stampede.Fail` fails the
    call; so does any other exception, with its traceback logged (only a `MemoryError` or a
    `SystemExit` traps the instance, and all of its VUs are re-created)."""

    async def init(self, setup_data: bytes) -> None:
        self.base_url = stampede.param("base_url", "http://127.0.0.1:18080")
        # A bad `think_ms` raises ValueError: this VU's start fails, and it retries a second later.
        self.think_ms = stampede.param_int("think_ms", 100)

    async def iteration(self, scenario: str) -> None:
        try:
            res = await stampede.get_async(f"{self.base_url}/products", name="products")
            check("status is 200", res.status == 200)
            check("body lists products", '"id"' in res.text())
        finally:
            # Also after a request that got no response (it raises): a target that is down is
            # not hammered as fast as the VUs can loop.
            await stampede.sleep_ms_async(self.think_ms)
