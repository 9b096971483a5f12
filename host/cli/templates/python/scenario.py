"""`{{name}}`: one request and two checks per iteration, then a pause.

Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
"""

import stampede
from stampede import check

# The exported interface's setup/teardown: the defaults (no setup data, nothing to tear down).
from stampede import Runner  # noqa: F401  (componentize-py looks it up in this module)


class Vu(stampede.Vu):
    """One virtual user: `__init__` runs once per VU, `iteration` in a loop."""

    def __init__(self, setup_data: bytes) -> None:
        self.base_url = stampede.param("base_url", "http://127.0.0.1:18080")
        self.think_ms = stampede.param_int("think_ms", 100)

    def iteration(self, scenario: str) -> None:
        try:
            res = stampede.get(f"{self.base_url}/products", name="products")
            check("status is 200", res.status == 200)
            check("body lists products", '"id"' in res.text())
        finally:
            # Also after a request that got no response (it raises): a target that is down is
            # not hammered as fast as the VUs can loop.
            stampede.sleep_ms(self.think_ms)
