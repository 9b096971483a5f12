"""Stampede's Python SDK: thin helpers over the bindings componentize-py generates for wit/stampede.wit.

A scenario is two small modules in one folder (componentize-py looks up the exported `vu` resource as
`Vu` in a module named after its interface, `runner`):

    # my_scenario.py: the app module given to sdk/python/build.sh
    import stampede
    from stampede import Runner  # default setup/teardown; subclass it to override them

    class Vu(stampede.Vu):
        def __init__(self, setup_data: bytes) -> None:
            self.url = stampede.param("url", "http://127.0.0.1:18080/")

        def iteration(self, scenario: str) -> None:
            res = stampede.get(self.url)
            stampede.check("status is 200", res.status == 200)

    # runner.py
    from my_scenario import Vu

Errors, as in the Rust SDK:

* raise `stampede.Fail("message")` (or let an `HttpError` escape) in `iteration`: the iteration counts as
  failed (`iteration_errors{error=failed}`) and the VU goes on with the same instance;
* any other exception is a bug in the scenario: its traceback is logged at level `error` through the host
  and the call traps (`iteration_errors{error=trap}`), so the VU is re-created (constructor runs again).

Only the standard library is used; this module is added to the component by sdk/python/build.sh.
"""

from __future__ import annotations

import json as _json
import traceback as _traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

import wit_world.exports  # noqa: F401  (the generated export protocols; makes the app import them)
from componentize_py_types import Err
from wit_world.imports import checks as _checks
from wit_world.imports import context as _context
from wit_world.imports import http as _http
from wit_world.imports import log as _log
from wit_world.imports import metrics as _metrics
from wit_world.imports import time as _time
from wit_world.imports import types as _types

__all__ = [
    "Err", "Fail", "HttpError", "Response", "Timings", "Runner", "Vu",
    "request", "get", "post", "put", "delete", "patch",
    "check", "sleep", "sleep_ms", "now_ms",
    "vu_id", "iteration", "worker_id", "scenario", "param", "param_int", "param_float", "params", "env",
    "debug", "info", "warn", "error",
    "counter_add", "rate_add", "trend_add", "gauge_set",
    "Rng", "Tasks",
]

Tags = Union[Dict[str, str], Iterable[Tuple[str, str]], None]


def _tags(tags: Tags) -> List[Tuple[str, str]]:
    if not tags:
        return []
    if isinstance(tags, dict):
        return [(str(k), str(v)) for k, v in tags.items()]
    return [(str(k), str(v)) for k, v in tags]


# ---------------------------------------------------------------------------------------------- errors


class Fail(Exception):
    """Fail the current iteration (or `setup` / `teardown`) with a message; the VU goes on."""


class HttpError(Fail):
    """No response arrived. `kind` is one of `origin-not-allowed`, `invalid-request`, `connect`, `timeout`,
    `protocol`; the host has already recorded the request as failed (`http_req_failed`)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(_http_error_text(kind, detail))


def _http_error_text(kind: str, detail: str) -> str:
    return {
        "origin-not-allowed": f"origin not allowed by the plan's targets: {detail}",
        "invalid-request": f"invalid request: {detail}",
        "connect": f"connection failed: {detail}",
        "timeout": "request timed out",
        "protocol": f"HTTP protocol error: {detail}",
    }.get(kind, f"{kind}: {detail}")


_HTTP_ERROR_KINDS = {
    _http.HttpError_OriginNotAllowed: "origin-not-allowed",
    _http.HttpError_InvalidRequest: "invalid-request",
    _http.HttpError_Connect: "connect",
    _http.HttpError_Timeout: "timeout",
    _http.HttpError_Protocol: "protocol",
}


def _log_exception(where: str, exc: BaseException) -> None:
    """Write an unexpected exception's traceback through the host's `log` (once per exception)."""
    if getattr(exc, "_stampede_logged", False):
        return
    try:
        exc._stampede_logged = True  # type: ignore[attr-defined]
    except Exception:
        pass
    text = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    _log.write(_types.Level.ERROR, f"{where} raised {type(exc).__name__}: {exc}\n{text}")


def _guard_result(where: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an export whose WIT result is `result<_, string>`: `Fail` becomes `Err(str)`, other exceptions
    are logged and re-raised (the call traps)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Err:
            raise
        except Fail as e:
            raise Err(str(e))
        except BaseException as e:
            _log_exception(where, e)
            raise

    return _guarded_like(wrapper, fn, where)


def _guarded_like(wrapper: Callable[..., Any], fn: Callable[..., Any], where: str) -> Callable[..., Any]:
    """Give a guard wrapper the wrapped function's name and doc, and mark it as guarded."""
    wrapper.__name__ = getattr(fn, "__name__", where)
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    wrapper._stampede_guarded = True  # type: ignore[attr-defined]
    return wrapper


def _guard_trap(where: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an export that has no error result (the constructor): every exception is logged and traps."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            _log_exception(where, e)
            raise

    return _guarded_like(wrapper, fn, where)


def _guard_methods(cls: type, traps: Sequence[str], results: Sequence[str]) -> None:
    for name in traps:
        fn = cls.__dict__.get(name)
        if fn is not None and not getattr(fn, "_stampede_guarded", False):
            setattr(cls, name, _guard_trap(f"{cls.__name__}.{name}", fn))
    for name in results:
        fn = cls.__dict__.get(name)
        if fn is not None and not getattr(fn, "_stampede_guarded", False):
            setattr(cls, name, _guard_result(f"{cls.__name__}.{name}", fn))


# ---------------------------------------------------------------------------------------------- exports


class Vu:
    """Base class for the exported `vu` resource (one per virtual user).

    Override `__init__(self, setup_data: bytes)` (log in, build state) and `iteration(self, scenario: str)`.
    Subclassing installs the error handling described in the module docs. Export it from `runner.py`
    under the name `Vu`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _guard_methods(cls, traps=["__init__"], results=["iteration"])

    def __init__(self, setup_data: bytes) -> None:
        self.setup_data = setup_data

    def iteration(self, scenario: str) -> None:
        raise NotImplementedError("override Vu.iteration")


class Runner:
    """The exported `runner` interface's free functions: `setup` and `teardown`.

    componentize-py instantiates the app module's `Runner` class. `from stampede import Runner` gives
    the defaults (no setup data, nothing to tear down); subclass it to override either. `Fail` raised in
    them becomes the WIT `err` (setup: the run stops; teardown: logged).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _guard_methods(cls, traps=[], results=["setup", "teardown"])

    def setup(self) -> bytes:
        return b""

    def teardown(self, setup_data: bytes) -> None:
        return None


# ---------------------------------------------------------------------------------------------- http


class Timings:
    """Time spent in each phase of a request, in milliseconds, as measured by the host."""

    __slots__ = ("duration_ms", "connecting_ms", "waiting_ms", "receiving_ms")

    def __init__(self, t: Any) -> None:
        self.duration_ms: float = t.duration_ms
        self.connecting_ms: float = t.connecting_ms
        self.waiting_ms: float = t.waiting_ms
        self.receiving_ms: float = t.receiving_ms

    def __repr__(self) -> str:
        return (f"Timings(duration_ms={self.duration_ms:.3f}, connecting_ms={self.connecting_ms:.3f}, "
                f"waiting_ms={self.waiting_ms:.3f}, receiving_ms={self.receiving_ms:.3f})")


def _split_headers(block: str) -> List[Tuple[str, str]]:
    """The host's `name: value` lines as pairs (names hold no `:`, values may)."""
    pairs = []
    for line in block.split("\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        pairs.append((name, value[1:] if value.startswith(" ") else value))
    return pairs


class Response:
    """A response the server sent, whatever its status."""

    __slots__ = ("status", "_header_block", "_headers", "body", "timings")

    def __init__(self, r: Any) -> None:
        self.status: int = r.status
        # The host's block: one "name: value" line per header, split on first use (`headers`).
        self._header_block: str = r.headers
        self._headers: Optional[List[Tuple[str, str]]] = None
        self.body: bytes = r.body
        self.timings = Timings(r.timings)

    @property
    def headers(self) -> List[Tuple[str, str]]:
        """`(name, value)` pairs in the order received; names are lower case."""
        if self._headers is None:
            self._headers = _split_headers(self._header_block)
        return self._headers

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def text(self) -> str:
        """The body as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises `ValueError` when it is not JSON)."""
        return _json.loads(self.body)

    def header(self, name: str) -> Optional[str]:
        """The first header called `name` (case-insensitive)."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def __repr__(self) -> str:
        return f"Response(status={self.status}, {len(self.body)} bytes, {self.timings.duration_ms:.3f} ms)"


def request(
    method: str,
    url: str,
    *,
    headers: Union[Dict[str, str], Iterable[Tuple[str, str]], None] = None,
    body: Union[bytes, str, None] = None,
    json: Any = None,
    bearer: Optional[str] = None,
    name: Optional[str] = None,
    timeout_ms: Optional[int] = None,
    tags: Tags = None,
) -> Response:
    """Send one request through the host and return its `Response`; raise `HttpError` when none arrived.

    `json` serialises a value as the body and sets `content-type: application/json` unless a content type
    is among `headers`; `bearer` adds `authorization: Bearer <token>`; `name` groups URLs with ids under one
    metric name; `timeout_ms` overrides the plan's `http-timeout`; `tags` adds tags to the samples.
    """
    hs = _tags(headers)
    if bearer is not None:
        hs.append(("authorization", f"Bearer {bearer}"))
    if json is not None:
        if body is not None:
            raise ValueError("pass body or json, not both")
        body = _json.dumps(json, separators=(",", ":"))
        if not any(k.lower() == "content-type" for k, _ in hs):
            hs.append(("content-type", "application/json"))
    if isinstance(body, str):
        body = body.encode("utf-8")
    req = _http.Request(
        method=method.upper(),
        url=url,
        headers=hs,
        body=body,
        name=name,
        timeout_ms=timeout_ms,
        tags=_tags(tags),
    )
    try:
        return Response(_http.send(req))
    except Err as e:
        v = e.value
        raise HttpError(_HTTP_ERROR_KINDS.get(type(v), type(v).__name__), getattr(v, "value", "") or "") from None


def get(url: str, **kwargs: Any) -> Response:
    """`GET url`; keyword arguments as for `request`."""
    return request("GET", url, **kwargs)


def post(url: str, body: Union[bytes, str, None] = None, **kwargs: Any) -> Response:
    """`POST url`; keyword arguments as for `request` (`json=` for a JSON body)."""
    return request("POST", url, body=body, **kwargs)


def put(url: str, body: Union[bytes, str, None] = None, **kwargs: Any) -> Response:
    """`PUT url`; keyword arguments as for `request`."""
    return request("PUT", url, body=body, **kwargs)


def patch(url: str, body: Union[bytes, str, None] = None, **kwargs: Any) -> Response:
    """`PATCH url`; keyword arguments as for `request`."""
    return request("PATCH", url, body=body, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """`DELETE url`; keyword arguments as for `request`."""
    return request("DELETE", url, **kwargs)


# ---------------------------------------------------------------------------------------------- checks, time


def check(name: str, ok: Any, tags: Tags = None) -> bool:
    """Record one sample of the `checks` rate under `name`; returns `bool(ok)` so it can be used inline."""
    return _checks.check(name, bool(ok), _tags(tags))


def sleep_ms(ms: Union[int, float]) -> None:
    """Park this VU for `ms` milliseconds (rounded up) without blocking other VUs. 0 does nothing."""
    ms = int(-(-ms // 1))  # ceil for floats
    if ms > 0:
        _time.sleep(min(ms, 0xFFFF_FFFF))


def sleep(seconds: float) -> None:
    """Like `time.sleep`, in seconds, but through the host (millisecond resolution, rounded up)."""
    sleep_ms(seconds * 1000.0)


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return _time.now_ms()


# ---------------------------------------------------------------------------------------------- context


def vu_id() -> int:
    """This VU's id, unique in the run, from 1 (0 in setup/teardown)."""
    return _context.vu_id()


def iteration() -> int:
    """How many iterations this VU started before the current one."""
    return _context.iteration()


def worker_id() -> str:
    return _context.worker_id()


def scenario() -> str:
    """The plan scenario this VU currently runs."""
    return _context.scenario()


_T = TypeVar("_T")


def param(name: str, default: _T = None) -> Union[str, _T]:  # type: ignore[assignment]
    """The plan's `[params]` entry `name` (always a string), or `default` when it is not set."""
    v = _context.param(name)
    return default if v is None else v


def param_int(name: str, default: int) -> int:
    """`[params]` entry `name` as an int, or `default` when unset. An unparsable value raises `ValueError`
    (not the default), naming the param."""
    v = _context.param(name)
    if v is None:
        return default
    try:
        return int(v.strip())
    except ValueError:
        raise ValueError(f"param {name}: expected an integer, found {v!r}") from None


def param_float(name: str, default: float) -> float:
    """`[params]` entry `name` as a float, or `default` when unset; an unparsable value raises."""
    v = _context.param(name)
    if v is None:
        return default
    try:
        return float(v.strip())
    except ValueError:
        raise ValueError(f"param {name}: expected a number, found {v!r}") from None


def params() -> Dict[str, str]:
    """Every `[params]` entry."""
    return dict(_context.params())


def env(name: str) -> Optional[str]:
    """An environment variable the plan's `env` list grants, if set."""
    return _context.env(name)


# ---------------------------------------------------------------------------------------------- log, metrics


def debug(message: str) -> None:
    _log.write(_types.Level.DEBUG, message)


def info(message: str) -> None:
    _log.write(_types.Level.INFO, message)


def warn(message: str) -> None:
    _log.write(_types.Level.WARN, message)


def error(message: str) -> None:
    _log.write(_types.Level.ERROR, message)


def counter_add(name: str, value: float = 1.0, tags: Tags = None) -> None:
    """Add `value` to the counter `name`."""
    _metrics.counter_add(name, float(value), _tags(tags))


def rate_add(name: str, value: bool, tags: Tags = None) -> None:
    """Add one boolean sample to the rate `name`."""
    _metrics.rate_add(name, bool(value), _tags(tags))


def trend_add(name: str, value: float, tags: Tags = None) -> None:
    """Add one sample to the trend `name` (milliseconds when it measures time)."""
    _metrics.trend_add(name, float(value), _tags(tags))


def gauge_set(name: str, value: float, tags: Tags = None) -> None:
    """Set the gauge `name`."""
    _metrics.gauge_set(name, float(value), _tags(tags))


# ---------------------------------------------------------------------------------------------- rng, tasks

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_TASK_STREAM = 0x7461736B  # "task", as in the Rust SDK


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class Rng:
    """SplitMix64, bit-for-bit the Rust SDK's `stampede_sdk::rng::Rng`: `Rng.for_iteration()` is seeded
    from the VU id and iteration, so runs make the same choices (in Python and Rust). Not for secrets."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    @classmethod
    def seeded(cls, vu_id: int, iteration: int, stream: int = 0) -> "Rng":
        seed = _mix(((vu_id * _GAMMA) & _MASK) ^ _mix(iteration ^ _mix((stream + _GAMMA) & _MASK)))
        return cls(seed)

    @classmethod
    def for_iteration(cls, stream: int = 0) -> "Rng":
        return cls.seeded(_context.vu_id(), _context.iteration(), stream)

    def next_u64(self) -> int:
        self.state = (self.state + _GAMMA) & _MASK
        return _mix(self.state)

    def below(self, n: int) -> int:
        """A number in `range(n)`."""
        if n <= 0:
            raise ValueError("Rng.below(0): empty range")
        return (self.next_u64() * n) >> 64

    def between(self, low: int, high: int) -> int:
        """A number in `low..=high`."""
        if low > high:
            raise ValueError(f"Rng.between({low}, {high}): empty range")
        return low + self.below(high - low + 1)

    def random(self) -> float:
        """A float in `[0, 1)`."""
        return (self.next_u64() >> 11) / float(1 << 53)

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, items: Sequence[_T]) -> Optional[_T]:
        """A random element of `items`, or `None` if it is empty."""
        if not items:
            return None
        return items[self.below(len(items))]


_S = TypeVar("_S")


class Tasks:
    """Weighted task choice (k6's scenario mix, Locust's `@task(weight)`), same picks as the Rust SDK:

        tasks = Tasks().task(3, "browse", browse).task(1, "buy", buy)
        tasks.run_one(state)   # calls one task with `state`

    A `Fail` raised by a task comes back prefixed with the task's name.
    """

    def __init__(self) -> None:
        self.tasks: List[Tuple[int, str, Callable[[Any], Any]]] = []
        self.total_weight = 0

    def task(self, weight: int, name: str, run: Callable[[Any], Any]) -> "Tasks":
        if weight < 0:
            raise ValueError("task weights must not be negative")
        self.tasks.append((weight, name, run))
        self.total_weight += weight
        return self

    def pick(self, rng: Rng) -> Optional[int]:
        if self.total_weight == 0:
            return None
        ticket = rng.below(self.total_weight)
        for index, (weight, _, _) in enumerate(self.tasks):
            if ticket < weight:
                return index
            ticket -= weight
        raise AssertionError("the ticket is below the total weight")

    def run_one(self, state: Any, rng: Optional[Rng] = None) -> Any:
        index = self.pick(rng if rng is not None else Rng.for_iteration(_TASK_STREAM))
        if index is None:
            raise Fail("Tasks.run_one: no task has a positive weight")
        _, name, run = self.tasks[index]
        try:
            return run(state)
        except Fail as e:
            raise Fail(f"{name}: {e}") from e
