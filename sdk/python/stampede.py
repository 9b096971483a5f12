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

Shared isolation (`isolation = "shared"` in the plan: many VUs as concurrent async calls in one
instance): subclass `SharedVu` instead, with `async def init(self, setup_data)` and
`async def iteration(self, scenario)`, send with `await get_async(...)` and think with
`await sleep_async(...)`, and export it from `shared_runner.py`; build.sh then builds for the world
`scenario-shared`. There an exception other than `Fail` does not trap (that would end every VU of the
instance): its traceback is logged and it fails the call as `Fail` does. See sdk/python/README.md.

A wrong argument to any helper here (`get(None)`, `check(123, True)`, `timeout_ms=-1`) raises an
ordinary `TypeError` or `ValueError` at the caller's line, before anything reaches the host: given to the
generated bindings, it would panic instead (no traceback, cannot be caught, the VU is re-created).

Only the standard library is used; this module is added to the component by sdk/python/build.sh.
"""

from __future__ import annotations

import inspect as _inspect
import json as _json
import math as _math
import numbers as _numbers
import sys as _sys
import traceback as _traceback
from contextvars import ContextVar
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

try:  # only in a component for the world `scenario-shared` (build.sh: the app has shared_runner.py)
    from wit_world.exports import shared_runner as _shared_runner
    from wit_world.imports import http_async as _http_async
    from wit_world.imports import time_async as _time_async
except ImportError:
    _shared_runner = _http_async = _time_async = None  # type: ignore[assignment]

__all__ = [
    "Err", "Fail", "HttpError", "Response", "Timings", "Runner", "Vu", "SharedRunner", "SharedVu",
    "request", "get", "post", "put", "delete", "patch",
    "request_async", "get_async", "post_async", "put_async", "delete_async", "patch_async",
    "check", "sleep", "sleep_ms", "sleep_async", "sleep_ms_async", "now_ms",
    "vu_id", "iteration", "worker_id", "scenario", "param", "param_int", "param_float", "params", "env",
    "debug", "info", "warn", "error",
    "counter_add", "rate_add", "trend_add", "gauge_set",
    "Rng", "Tasks",
]

Tags = Union[Dict[str, str], Iterable[Tuple[str, str]], None]
# A request body: bytes, a str (UTF-8) or a dict or list (JSON).
Body = Union[bytes, str, Dict[str, Any], List[Any], None]


# ---------------------------------------------------------------------------------------------- arguments
#
# componentize-py's bindings cannot report a value of the wrong type: they panic, which traps the call
# with no file or line, cannot be caught, and re-creates the VU. So every value is checked (or converted,
# where the JS SDK converts too) here, before it reaches the host, and a wrong one raises an ordinary
# TypeError or ValueError at the user's line, naming the argument, what it got and what it takes.

_U32_MAX = 0xFFFF_FFFF
_REPR_MAX = 80


def _describe(value: Any) -> str:
    """A wrong argument, for messages: its repr (shortened) and type, as `123 (int)`."""
    if value is None:
        return "None"
    try:
        text = repr(value)
    except Exception:
        text = "?"
    if len(text) > _REPR_MAX:
        text = text[:_REPR_MAX - 3] + "..."
    return f"{text} ({type(value).__name__})"


def _str_arg(where: str, what: str, value: Any) -> str:
    """`value` when it is a `str`; else a TypeError naming `what`."""
    if isinstance(value, str):
        return value
    raise TypeError(f"{where}: {what} must be a str, got {_describe(value)}")


def _is_number(value: Any) -> bool:
    """An int or float (or another real number type), but not a bool: `True` as a duration is a bug."""
    return isinstance(value, _numbers.Real) and not isinstance(value, bool)


def _whole_ms(where: str, what: str, value: Any) -> int:
    """A duration as whole milliseconds, rounded up (the host counts in ms; rounding down would turn
    0.5 ms into no wait at all). Infinity is kept as a huge int for the caller to clamp or refuse."""
    if not _is_number(value):
        raise TypeError(f"{where}: {what} must be a number of milliseconds, got {_describe(value)}")
    if _math.isnan(value):
        raise ValueError(f"{where}: {what} must be a number of milliseconds, got NaN")
    if _math.isinf(value):
        return _U32_MAX + 1 if value > 0 else -1
    return _math.ceil(value)


def _pairs(where: str, what: str, value: Any) -> List[Tuple[str, str]]:
    """Tags or headers as the host's `(name, value)` string pairs, from a dict or an iterable of pairs
    (keys and values go through `str()`, as in the JS SDK)."""
    if not value:
        return []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (str, bytes)):  # iterable, but as characters: never what was meant
        items = None
    else:
        items = value
    try:
        if items is not None:
            return [(str(k), str(v)) for k, v in items]
    except (TypeError, ValueError):
        pass
    raise TypeError(f"{where}: {what} must be a dict or a list of (name, value) pairs, "
                    f"got {_describe(value)}")


def _json_bytes(where: str, what: str, value: Any) -> bytes:
    """`value` as compact JSON in UTF-8; a value JSON cannot hold raises naming `what`."""
    try:
        return _json.dumps(value, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: {what} is sent as JSON, but {e}") from None


def _as_bytes(value: Any) -> Optional[bytes]:
    """`bytes`, `bytearray` and `memoryview` as `bytes`, a `str` as UTF-8; `None` for anything else."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return None


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
    _write_traceback(where, exc)


def _write_traceback(where: str, exc: BaseException) -> None:
    try:
        text = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    except Exception:
        text = "(the traceback could not be formatted)"
    _log.write(_types.Level.ERROR, f"{where} raised {type(exc).__name__}: {_text(exc)}\n{text}")


def _text(exc: BaseException) -> str:
    """`str(exc)`, or a note when the exception's own `__str__` fails."""
    try:
        return str(exc)
    except Exception as e:
        return f"(its __str__ raised {type(e).__name__})"


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


def _setup_bytes(where: str, data: Any) -> bytes:
    """What `setup` returned, as the bytes every VU receives (the WIT `list<u8>`), converted as the JS
    SDK does: bytes as they are, a `str` as UTF-8, `None` as no data, anything else as JSON (a dict,
    a list, a number...: the VU reads it back with `json.loads(setup_data)`)."""
    if data is None:
        return b""
    raw = _as_bytes(data)
    if raw is not None:
        return raw
    try:
        return _json_bytes(where, "the value it returned", data)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{e}; return bytes, a str, None, or a value JSON can hold "
                        f"(a dict, a list, ...)") from None


def _guard_setup(where: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`_guard_result` for `setup`, whose result is converted to bytes (`_setup_bytes`). A result that
    cannot be converted fails setup with a message saying what to return: the run stops with it, and
    there is no line of the user's to show a traceback at."""
    guarded = _guard_result(where, fn)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        data = guarded(*args, **kwargs)
        try:
            return _setup_bytes(where, data)
        except (TypeError, ValueError) as e:
            raise Err(str(e))

    return _guarded_like(wrapper, fn, where)


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
            guard = _guard_setup if name == "setup" else _guard_result
            setattr(cls, name, guard(f"{cls.__name__}.{name}", fn))


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

    def setup(self) -> Any:
        """The data every VU's constructor (and `teardown`) receives, as bytes: return bytes, a `str`
        (sent as UTF-8), `None` (no data) or any value JSON can hold (sent as JSON: read it back with
        `json.loads(setup_data)`)."""
        return b""

    def teardown(self, setup_data: bytes) -> None:
        return None


# ---------------------------------------------------------------------------------------------- shared isolation


class _Current:
    """The VU whose task is running, in a shared instance (where the host cannot tell VUs apart)."""

    __slots__ = ("vu_id", "iteration", "scenario")

    def __init__(self, vu_id: int, iteration: int, scenario: str) -> None:
        self.vu_id, self.iteration, self.scenario = vu_id, iteration, scenario


# componentize-py runs each call of an async export as a task with a context of its own, so a value
# set here during a VU's `init` or `iteration` is seen by that VU's code only, across its awaits.
_current: "ContextVar[Optional[_Current]]" = ContextVar("stampede_current_vu", default=None)
_OUTSIDE_A_VU = _Current(0, 0, "")

_NOT_SHARED = ("{} needs a component built for the world scenario-shared: subclass stampede.SharedVu, "
               "export it from shared_runner.py (build.sh then builds for that world) and run it with "
               "isolation = \"shared\"; in a stampede.Vu use the blocking {}")


def _shared_export(where: str, fn: Callable[..., Any], current: Callable[..., _Current],
                   call: Callable[..., Any]) -> Callable[..., Any]:
    """An async export around the user's coroutine `fn`: runs it as the VU `current(self, *args)`.
    `Fail` becomes the WIT `err`. So does any other `Exception`, and an escaping `CancelledError` (the
    traceback logged first): a trap would end every VU of the shared instance, where an exception is
    only this VU's. `MemoryError` and the other `BaseException`s (`SystemExit`) still trap."""

    async def export(self: Any, *args: Any) -> Any:
        if _current.get() is not None:
            # Called by the VU's own code (a subclass's `await super().iteration(scenario)`): the
            # user's signature, and errors go to the caller.
            return await fn(self, *args)
        token = None
        try:
            token = _current.set(current(self, *args))
            await call(fn, self, *args)
        except Err:
            raise
        except Fail as e:
            raise Err(str(e))
        except BaseException as e:
            if _fails_only_the_call(e):
                raise Err(_unexpected(where, e)) from None
            _log_exception(where, e)
            raise
        finally:
            if token is not None:
                _current.reset(token)

    return _guarded_like(export, fn, where)


# Exceptions whose traceback a shared instance has logged, by where, type and message: a bug that
# strikes every iteration logs its traceback once, not once per iteration (the call's error, which
# the host counts and prints once per distinct message, still names it every time).
_LOGGED: "set[Tuple[str, str, str]]" = set()
# At most this many distinct exceptions are logged with their traceback, so that messages that
# differ every time (an id in them) cannot grow the set for ever.
_LOGGED_MAX = 1000


def _unexpected(where: str, exc: BaseException) -> str:
    """The error an unexpected exception ends a shared VU's call with; logs its traceback the first
    time that exception (where, type, message) is seen."""
    message = _text(exc)
    key = (where, type(exc).__name__, message)
    if key not in _LOGGED and len(_LOGGED) < _LOGGED_MAX:
        _LOGGED.add(key)
        _write_traceback(where, exc)
    note = "traceback logged" if key in _LOGGED else "too many distinct exceptions to log each traceback"
    return f"{where} raised {type(exc).__name__}: {message} ({note})"


def _fails_only_the_call(exc: BaseException) -> bool:
    """Whether `exc`, escaping a shared VU's call, fails only that call rather than trapping the
    instance: any `Exception` but `MemoryError`, and asyncio's `CancelledError` (not the host's doing,
    which never cancels a call, but an `await` of a task the VU's code cancelled; re-raised, it would
    leave the call unfinished). asyncio is only loaded in a shared component."""
    if isinstance(exc, Exception):
        return not isinstance(exc, MemoryError)
    cancelled = getattr(_sys.modules.get("asyncio"), "CancelledError", None)
    return cancelled is not None and isinstance(exc, cancelled)


_SharedVuBase: Any = _shared_runner.Vu if _shared_runner is not None else object


class SharedVu(_SharedVuBase):  # type: ignore[misc, valid-type]
    """Base class for the `vu` resource of shared isolation: many VUs in one instance, each a chain of
    async calls, so a waiting VU costs a few KiB instead of an interpreter.

    Override `async def init(self, setup_data: bytes)` (log in; once per VU, before its first
    iteration) and `async def iteration(self, scenario: str)` (not `__init__`: the constructor only
    stores `self.vu_id` and `self.setup_data`). Send with `await get_async(...)` (and
    the other `*_async` helpers) and think with `await sleep_async(...)`: they suspend only this VU.
    The blocking `get`/`sleep` stall every VU of the instance. `self.vu_id` is this VU's id; inside
    `init` and `iteration`, `vu_id()`, `iteration()`, `scenario()` and `Rng.for_iteration()` answer for
    this VU. `Fail` fails the call as in `Vu`; so does any other exception (its traceback is logged
    once), where a `Vu` would trap: a trap here would end every VU of the instance. After a failed
    `iteration` the VU goes on with the same object; after a failed `init` it is constructed again.
    `MemoryError` (and the other `BaseException`s, such as `SystemExit`) still trap the instance (the
    host recreates its VUs). Export the class from `shared_runner.py` under the name `Vu`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _guard_methods(cls, traps=["__init__"], results=[])
        for name in ("init", "iteration"):
            fn = cls.__dict__.get(name)
            if fn is not None and not _inspect.iscoroutinefunction(fn):
                raise TypeError(f"{cls.__name__}.{name} must be `async def` in a stampede.SharedVu "
                                f"(await get_async(...) and sleep_async(...) inside it)")
        init = cls.__dict__.get("init")
        if init is not None and not getattr(init, "_stampede_guarded", False):
            cls.init = _shared_export(  # type: ignore[method-assign]
                f"{cls.__name__}.init", init,
                lambda self: _Current(self.vu_id, 0, ""),
                lambda fn, self: fn(self, self.setup_data))
        iteration = cls.__dict__.get("iteration")
        if iteration is not None and not getattr(iteration, "_stampede_guarded", False):
            cls.iteration = _shared_export(  # type: ignore[method-assign]
                f"{cls.__name__}.iteration", iteration,
                lambda self, scenario, number: _Current(self.vu_id, number, scenario),
                lambda fn, self, scenario, number: fn(self, scenario))

    def __init__(self, id: int, setup_data: bytes) -> None:
        self.vu_id = id
        self.setup_data = setup_data

    async def init(self) -> None:
        return None

    async def iteration(self, scenario: str, number: int) -> None:
        raise NotImplementedError("override SharedVu.iteration")


class SharedRunner(Runner):
    """`setup` and `teardown` for a shared-isolation component: componentize-py looks for a class of
    this name in the app module. `from stampede import SharedRunner` gives the defaults; subclass it
    (as `Runner`) to override them. They run in instances of their own and may block."""


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


def _request_record(
    method: str,
    url: str,
    *,
    headers: Union[Dict[str, str], Iterable[Tuple[str, str]], None] = None,
    body: Body = None,
    json: Any = None,
    bearer: Union[str, bytes, None] = None,
    name: Optional[str] = None,
    timeout_ms: Union[int, float, None] = None,
    tags: Tags = None,
) -> Any:
    method = _str_arg("request", "method", method).upper()
    where = f"{method} request"
    url = _url(where, url)
    hs = _pairs(where, "headers", headers)
    if bearer is not None:
        hs.append(("authorization", f"Bearer {_bearer(where, bearer)}"))
    data, is_json = _body(where, body, json)
    if is_json and not any(k.lower() == "content-type" for k, _ in hs):
        hs.append(("content-type", "application/json"))
    return _http.Request(
        method=method,
        url=url,
        headers=hs,
        body=data,
        name=None if name is None else _str_arg(where, "name", name),
        timeout_ms=_timeout_ms(where, timeout_ms),
        tags=_pairs(where, "tags", tags),
    )


def _url(where: str, url: Any) -> str:
    """`url` when it is an absolute http(s) URL; the host would refuse anything else as an
    `invalid-request`, which reads as a failed request rather than the bug it is."""
    url = _str_arg(where, "url", url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/?#":
        raise ValueError(f"{where}: url must be an absolute http:// or https:// URL "
                         f"(http://host:port/path), got {url!r}")
    return url


def _bearer(where: str, token: Any) -> str:
    """A bearer token: a `str`, or UTF-8 `bytes` (as setup data arrives; `str()` of bytes would send
    `b'...'`)."""
    if isinstance(token, (bytes, bytearray)):
        return bytes(token).decode("utf-8")
    return _str_arg(where, "bearer", token)


def _body(where: str, body: Any, json: Any) -> Tuple[Optional[bytes], bool]:
    """The request body as bytes (or `None`: no body), and whether it is JSON: `json=`, or a dict or
    list passed as `body` (as the JS SDK sends a plain object)."""
    if json is not None:
        if body is not None:
            raise ValueError(f"{where}: pass body or json, not both")
        return _json_bytes(where, "json", json), True
    if body is None:
        return None, False
    if isinstance(body, (dict, list)):
        return _json_bytes(where, "body", body), True
    data = _as_bytes(body)
    if data is None:
        raise TypeError(f"{where}: body must be bytes, a str, a dict or list (sent as JSON) or None, "
                        f"got {_describe(body)}")
    return data, False


def _timeout_ms(where: str, timeout_ms: Any) -> Optional[int]:
    """`timeout_ms` as the WIT's `option<u32>`: whole milliseconds, rounded up."""
    if timeout_ms is None:
        return None
    ms = _whole_ms(where, "timeout_ms", timeout_ms)
    if not 0 <= ms <= _U32_MAX:
        raise ValueError(f"{where}: timeout_ms must be from 0 to {_U32_MAX} milliseconds, "
                         f"got {timeout_ms!r}")
    return ms


def _http_error(e: Err) -> HttpError:
    v = e.value
    return HttpError(_HTTP_ERROR_KINDS.get(type(v), type(v).__name__), getattr(v, "value", "") or "")


def request(
    method: str,
    url: str,
    *,
    headers: Union[Dict[str, str], Iterable[Tuple[str, str]], None] = None,
    body: Body = None,
    json: Any = None,
    bearer: Union[str, bytes, None] = None,
    name: Optional[str] = None,
    timeout_ms: Union[int, float, None] = None,
    tags: Tags = None,
) -> Response:
    """Send one request through the host and return its `Response`; raise `HttpError` when none arrived.

    `url` is absolute (`http://host:port/path`). `body` is bytes, a `str` (sent as UTF-8) or a dict or
    list (sent as JSON, as `json=`). `json` serialises any value as the body; both set
    `content-type: application/json` unless a content type is among `headers`. `bearer` adds
    `authorization: Bearer <token>`; `name` groups URLs with ids under one metric name; `timeout_ms`
    (rounded up to whole milliseconds) overrides the plan's `http-timeout`; `tags` adds tags to the
    samples. A wrong argument raises `TypeError` or `ValueError` before anything is sent.
    """
    req = _request_record(method, url, headers=headers, body=body, json=json, bearer=bearer, name=name,
                          timeout_ms=timeout_ms, tags=tags)
    try:
        return Response(_http.send(req))
    except Err as e:
        raise _http_error(e) from None


async def request_async(method: str, url: str, **kwargs: Any) -> Response:
    """`request` for a `SharedVu`, with the same keyword arguments: suspends only this VU until the
    response is in (the instance's other VUs run meanwhile). Needs a component for the world
    `scenario-shared`."""
    if _http_async is None:
        raise RuntimeError(_NOT_SHARED.format("request_async", "request"))
    req = _request_record(method, url, **kwargs)
    try:
        return Response(await _http_async.send(req))
    except Err as e:
        raise _http_error(e) from None


async def get_async(url: str, **kwargs: Any) -> Response:
    """`GET url` from a `SharedVu`; keyword arguments as for `request`."""
    return await request_async("GET", url, **kwargs)


async def post_async(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`POST url` from a `SharedVu`; keyword arguments as for `request` (`json=` for a JSON body)."""
    return await request_async("POST", url, body=body, **kwargs)


async def put_async(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`PUT url` from a `SharedVu`; keyword arguments as for `request`."""
    return await request_async("PUT", url, body=body, **kwargs)


async def patch_async(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`PATCH url` from a `SharedVu`; keyword arguments as for `request`."""
    return await request_async("PATCH", url, body=body, **kwargs)


async def delete_async(url: str, **kwargs: Any) -> Response:
    """`DELETE url` from a `SharedVu`; keyword arguments as for `request`."""
    return await request_async("DELETE", url, **kwargs)


def get(url: str, **kwargs: Any) -> Response:
    """`GET url`; keyword arguments as for `request`."""
    return request("GET", url, **kwargs)


def post(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`POST url`; keyword arguments as for `request` (`json=` for a JSON body)."""
    return request("POST", url, body=body, **kwargs)


def put(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`PUT url`; keyword arguments as for `request`."""
    return request("PUT", url, body=body, **kwargs)


def patch(url: str, body: Body = None, **kwargs: Any) -> Response:
    """`PATCH url`; keyword arguments as for `request`."""
    return request("PATCH", url, body=body, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """`DELETE url`; keyword arguments as for `request`."""
    return request("DELETE", url, **kwargs)


# ---------------------------------------------------------------------------------------------- checks, time


def check(name: str, ok: Any, tags: Tags = None) -> bool:
    """Record one sample of the `checks` rate under `name`; returns `bool(ok)` so it can be used inline."""
    if not isinstance(name, str):
        raise TypeError(f"check: name must be a str, got {_describe(name)}; Stampede's check is "
                        f"check(name, ok), as in check(\"status is 200\", res.status == 200)")
    if callable(ok):
        # k6's check(res, {name: fn}) habit: a function is always true, so the check could never fail.
        raise TypeError(f"check({name!r}, ok): ok is a function, which is always true; pass its result, "
                        f"as in check(name, res.status == 200)")
    return _checks.check(name, bool(ok), _pairs("check", "tags", tags))


def _sleep_whole_ms(where: str, ms: Any) -> int:
    """`ms` as the host's `u32` of whole milliseconds: rounded up, 0 for a negative value, at most
    `_U32_MAX` (about 49 days; the JS SDK clamps the same way)."""
    return max(0, min(_whole_ms(where, "ms", ms), _U32_MAX))


def _sleep_seconds_ms(where: str, seconds: Any) -> int:
    """`sleep(seconds)`'s wait in whole milliseconds (checked here, so that the message says seconds)."""
    takes = f"{where}(seconds) takes a number of seconds ({where}(0.5) is half a second)"
    if not _is_number(seconds):
        raise TypeError(f"{takes}, got {_describe(seconds)}; sleep_ms takes milliseconds")
    if _math.isnan(seconds):
        raise ValueError(f"{takes}, got NaN")
    if _math.isinf(seconds):
        return _sleep_whole_ms(where, seconds)
    # From whole microseconds, so that 2.007 s is 2007 ms, not 2008 (2.007 * 1000 is 2007.0000000000002).
    return _sleep_whole_ms(where, round(seconds * 1_000_000) / 1000)


def sleep_ms(ms: Union[int, float]) -> None:
    """Park this VU for `ms` milliseconds (rounded up) without blocking other VUs. 0 does nothing."""
    whole = _sleep_whole_ms("sleep_ms", ms)
    if whole > 0:
        _time.sleep(whole)


def sleep(seconds: float) -> None:
    """Like `time.sleep`, in seconds, but through the host (millisecond resolution, rounded up)."""
    whole = _sleep_seconds_ms("sleep", seconds)
    if whole > 0:
        _time.sleep(whole)


async def sleep_ms_async(ms: Union[int, float]) -> None:
    """`sleep_ms` for a `SharedVu`: suspends only this VU. Needs a component for `scenario-shared`."""
    if _time_async is None:
        raise RuntimeError(_NOT_SHARED.format("sleep_ms_async", "sleep_ms"))
    whole = _sleep_whole_ms("sleep_ms_async", ms)
    if whole > 0:
        await _time_async.sleep(whole)


async def sleep_async(seconds: float) -> None:
    """`sleep` for a `SharedVu`: suspends only this VU (millisecond resolution, rounded up)."""
    if _time_async is None:
        raise RuntimeError(_NOT_SHARED.format("sleep_async", "sleep"))
    whole = _sleep_seconds_ms("sleep_async", seconds)
    if whole > 0:
        await _time_async.sleep(whole)


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return _time.now_ms()


# ---------------------------------------------------------------------------------------------- context


def _shared_current() -> Optional[_Current]:
    """In a shared-isolation component, the running VU (or none, outside one); else `None`: the host
    knows."""
    if _shared_runner is None:
        return None
    return _current.get() or _OUTSIDE_A_VU


def vu_id() -> int:
    """This VU's id, unique in the run, from 1 (0 in setup/teardown)."""
    c = _shared_current()
    return _context.vu_id() if c is None else c.vu_id


def iteration() -> int:
    """How many iterations this VU started before the current one."""
    c = _shared_current()
    return _context.iteration() if c is None else c.iteration


def worker_id() -> str:
    return _context.worker_id()


def scenario() -> str:
    """The plan scenario this VU currently runs (in a `SharedVu`'s `init`, and outside VUs: `""`)."""
    c = _shared_current()
    return _context.scenario() if c is None else c.scenario


_T = TypeVar("_T")


def param(name: str, default: _T = None) -> Union[str, _T]:  # type: ignore[assignment]
    """The plan's `[params]` entry `name` (always a string), or `default` when it is not set."""
    v = _context.param(_str_arg("param", "name", name))
    return default if v is None else v


def param_int(name: str, default: int) -> int:
    """`[params]` entry `name` as an int, or `default` when unset. An unparsable value raises `ValueError`
    (not the default), naming the param."""
    v = _context.param(_str_arg("param_int", "name", name))
    if v is None:
        return default
    try:
        return int(v.strip())
    except ValueError:
        raise ValueError(f"param {name}: expected an integer, found {v!r}") from None


def param_float(name: str, default: float) -> float:
    """`[params]` entry `name` as a float, or `default` when unset; an unparsable value raises."""
    v = _context.param(_str_arg("param_float", "name", name))
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
    return _context.env(_str_arg("env", "name", name))


# ---------------------------------------------------------------------------------------------- log, metrics


def _write(level: Any, message: Any) -> None:
    # Any object is logged as `str()` gives it (the JS SDK's `String(message)`), as `print` would.
    _log.write(level, message if isinstance(message, str) else str(message))


def debug(message: Any) -> None:
    """Log `message` (any object, through `str()`) at level debug."""
    _write(_types.Level.DEBUG, message)


def info(message: Any) -> None:
    """Log `message` (any object, through `str()`) at level info."""
    _write(_types.Level.INFO, message)


def warn(message: Any) -> None:
    """Log `message` (any object, through `str()`) at level warn."""
    _write(_types.Level.WARN, message)


def error(message: Any) -> None:
    """Log `message` (any object, through `str()`) at level error."""
    _write(_types.Level.ERROR, message)


def _metric_value(where: str, value: Any) -> float:
    """A sample's value as the WIT's `f64` (a numeric str converts too, as `float()` and the JS SDK's
    `Number()` do)."""
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: value must be a number, got {_describe(value)}") from None


def counter_add(name: str, value: float = 1.0, tags: Tags = None) -> None:
    """Add `value` to the counter `name`."""
    where = "counter_add"
    _metrics.counter_add(_str_arg(where, "name", name), _metric_value(where, value),
                         _pairs(where, "tags", tags))


def rate_add(name: str, value: bool, tags: Tags = None) -> None:
    """Add one boolean sample (`bool(value)`) to the rate `name`."""
    where = "rate_add"
    _metrics.rate_add(_str_arg(where, "name", name), bool(value), _pairs(where, "tags", tags))


def trend_add(name: str, value: float, tags: Tags = None) -> None:
    """Add one sample to the trend `name` (milliseconds when it measures time)."""
    where = "trend_add"
    _metrics.trend_add(_str_arg(where, "name", name), _metric_value(where, value),
                       _pairs(where, "tags", tags))


def gauge_set(name: str, value: float, tags: Tags = None) -> None:
    """Set the gauge `name`."""
    where = "gauge_set"
    _metrics.gauge_set(_str_arg(where, "name", name), _metric_value(where, value),
                       _pairs(where, "tags", tags))


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
        return cls.seeded(vu_id(), iteration(), stream)

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
        await tasks.run_one_async(state)   # in a SharedVu, with `async def` tasks

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

    def _chosen(self, rng: Optional[Rng], what: str) -> Tuple[str, Callable[[Any], Any]]:
        index = self.pick(rng if rng is not None else Rng.for_iteration(_TASK_STREAM))
        if index is None:
            raise Fail(f"Tasks.{what}: no task has a positive weight")
        _, name, run = self.tasks[index]
        return name, run

    def run_one(self, state: Any, rng: Optional[Rng] = None) -> Any:
        name, run = self._chosen(rng, "run_one")
        try:
            return run(state)
        except Fail as e:
            raise Fail(f"{name}: {e}") from e

    async def run_one_async(self, state: Any, rng: Optional[Rng] = None) -> Any:
        """`run_one` for a `SharedVu`, whose tasks are `async def`: awaits the chosen task."""
        name, run = self._chosen(rng, "run_one_async")
        try:
            result = run(state)
            return await result if _inspect.isawaitable(result) else result
        except Fail as e:
            raise Fail(f"{name}: {e}") from e
