"""Host-side tests of stampede.py with fake bindings: `python3 sdk/python/tests/test_stampede.py`.

The real `wit_world` package only exists inside a component; these fakes record what the SDK sends to the
host, so request building, error mapping, Rng and Tasks can be checked with plain CPython (3.9+).
"""

import os
import sys
import types
import unittest
from dataclasses import dataclass
from enum import Enum
from typing import Any, List, Optional, Tuple


def _install_fakes() -> types.SimpleNamespace:
    calls = types.SimpleNamespace(sent=[], checks=[], logs=[], metrics=[], sleeps=[], reply=None,
                                  vu_id=1, iteration=0, params={})

    @dataclass(frozen=True)
    class Err(Exception):
        value: Any

    cpt = types.ModuleType("componentize_py_types")
    cpt.Err = Err
    sys.modules["componentize_py_types"] = cpt

    ww = types.ModuleType("wit_world")
    exports = types.ModuleType("wit_world.exports")
    imports = types.ModuleType("wit_world.imports")
    ww.exports, ww.imports = exports, imports
    sys.modules.update({"wit_world": ww, "wit_world.exports": exports, "wit_world.imports": imports})

    def mod(name: str, **attrs: Any) -> None:
        m = types.ModuleType(f"wit_world.imports.{name}")
        m.__dict__.update(attrs)
        setattr(imports, name, m)
        sys.modules[m.__name__] = m

    @dataclass
    class Request:
        method: str
        url: str
        headers: List[Tuple[str, str]]
        body: Optional[bytes]
        name: Optional[str]
        timeout_ms: Optional[int]
        tags: List[Tuple[str, str]]

    @dataclass
    class Timings:
        duration_ms: float
        connecting_ms: float
        waiting_ms: float
        receiving_ms: float

    @dataclass
    class Response:
        status: int
        headers: str
        body: bytes
        timings: Timings

    http_errors = {}
    for case in ["OriginNotAllowed", "InvalidRequest", "Connect", "Protocol"]:
        http_errors[case] = dataclass(type(f"HttpError_{case}", (), {"__annotations__": {"value": str}}))
    http_errors["Timeout"] = dataclass(type("HttpError_Timeout", (), {}))

    def send(req: Request) -> Response:
        calls.sent.append(req)
        if isinstance(calls.reply, Exception):
            raise calls.reply
        return calls.reply or Response(200, "content-type: application/json\n", b'{"a":1}',
                                       Timings(1.5, 0.0, 1.0, 0.5))

    mod("http", Request=Request, Timings=Timings, Response=Response, send=send,
        **{f"HttpError_{k}": v for k, v in http_errors.items()})
    mod("checks", check=lambda name, ok, tags: calls.checks.append((name, ok, tags)) or ok)
    mod("context", vu_id=lambda: calls.vu_id, iteration=lambda: calls.iteration, worker_id=lambda: "w",
        scenario=lambda: "main", param=lambda n: calls.params.get(n), params=lambda: list(calls.params.items()),
        env=lambda n: None)
    mod("time", sleep=lambda ms: calls.sleeps.append(ms), now_ms=lambda: 42)
    Level = Enum("Level", {"DEBUG": 0, "INFO": 1, "WARN": 2, "ERROR": 3})
    mod("types", Level=Level)
    mod("log", write=lambda level, msg: calls.logs.append((level.name, msg)))
    mod("metrics", **{k: (lambda k: lambda name, v, tags: calls.metrics.append((k, name, v, tags)))(k)
                      for k in ["counter_add", "rate_add", "trend_add", "gauge_set"]})
    calls.Err = Err
    calls.errors = http_errors
    return calls


FAKE = _install_fakes()
FAKE_RESPONSE = sys.modules["wit_world.imports.http"].Response
FAKE_TIMINGS = sys.modules["wit_world.imports.http"].Timings
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import stampede  # noqa: E402


class StampedeTest(unittest.TestCase):
    def setUp(self) -> None:
        FAKE.sent.clear(); FAKE.checks.clear(); FAKE.logs.clear(); FAKE.sleeps.clear()
        FAKE.reply = None; FAKE.params = {}

    def test_request_record(self) -> None:
        res = stampede.post("http://h/cart", json={"id": 3}, bearer="tok", name="cart", tags={"k": "v"},
                            timeout_ms=500)
        req = FAKE.sent[0]
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.body, b'{"id":3}')
        self.assertEqual(req.headers, [("authorization", "Bearer tok"), ("content-type", "application/json")])
        self.assertEqual((req.name, req.timeout_ms, req.tags), ("cart", 500, [("k", "v")]))
        self.assertEqual(res.json(), {"a": 1})
        self.assertTrue(res.ok)
        self.assertEqual(res.header("Content-Type"), "application/json")
        self.assertEqual(res.timings.duration_ms, 1.5)
        stampede.request("get", "http://h/", headers={"Content-Type": "x"}, json=[])
        self.assertEqual(FAKE.sent[1].method, "GET")
        self.assertEqual(FAKE.sent[1].headers, [("Content-Type", "x")])
        stampede.get("http://h/")
        self.assertEqual((FAKE.sent[2].body, FAKE.sent[2].headers, FAKE.sent[2].tags), (None, [], []))

    def test_the_hosts_header_block_is_split_into_pairs_on_first_use(self) -> None:
        block = "content-type: text/plain\nset-cookie: a=1\nset-cookie: b=2; Path=/\nx-empty: \nx-url: http://h:1/\n"
        FAKE.reply = FAKE_RESPONSE(200, block, b"", FAKE_TIMINGS(1.0, 0.0, 1.0, 0.0))
        res = stampede.get("http://h/")
        self.assertEqual(res.header("Content-Type"), "text/plain")
        self.assertEqual(res.header("x-url"), "http://h:1/")
        self.assertEqual(res.header("x-empty"), "")
        self.assertIsNone(res.header("x-missing"))
        self.assertEqual(res.headers, [("content-type", "text/plain"), ("set-cookie", "a=1"),
                                       ("set-cookie", "b=2; Path=/"), ("x-empty", ""), ("x-url", "http://h:1/")])
        self.assertIs(res.headers, res.headers)

    def test_http_errors_become_fail(self) -> None:
        FAKE.reply = FAKE.Err(FAKE.errors["Connect"]("refused"))
        with self.assertRaises(stampede.HttpError) as e:
            stampede.get("http://h/")
        self.assertEqual((e.exception.kind, str(e.exception)), ("connect", "connection failed: refused"))
        FAKE.reply = FAKE.Err(FAKE.errors["Timeout"]())
        with self.assertRaises(stampede.Fail) as e:
            stampede.get("http://h/")
        self.assertEqual(str(e.exception), "request timed out")

    def test_vu_guards(self) -> None:
        class Vu(stampede.Vu):
            def __init__(self, setup_data: bytes) -> None:
                if setup_data == b"boom":
                    raise RuntimeError("init")

            def iteration(self, scenario: str) -> None:
                if scenario == "fail":
                    raise stampede.Fail("nope")
                if scenario == "http":
                    stampede.get("http://h/")
                if scenario == "bug":
                    {}["x"]

        vu = Vu(b"")
        vu.iteration("ok")
        with self.assertRaises(FAKE.Err) as e:
            vu.iteration("fail")
        self.assertEqual(e.exception.value, "nope")
        FAKE.reply = FAKE.Err(FAKE.errors["OriginNotAllowed"]("http://x"))
        with self.assertRaises(FAKE.Err) as e:
            vu.iteration("http")
        self.assertEqual(e.exception.value, "origin not allowed by the plan's targets: http://x")
        self.assertEqual(FAKE.logs, [])
        with self.assertRaises(KeyError):
            vu.iteration("bug")
        self.assertEqual(FAKE.logs[0][0], "ERROR")
        self.assertIn("Vu.iteration raised KeyError", FAKE.logs[0][1])
        with self.assertRaises(RuntimeError):
            Vu(b"boom")
        self.assertIn("Vu.__init__ raised RuntimeError: init", FAKE.logs[1][1])

    def test_runner_defaults_and_fail(self) -> None:
        self.assertEqual(stampede.Runner().setup(), b"")

        class Runner(stampede.Runner):
            def setup(self) -> bytes:
                raise stampede.Fail("no setup")

        with self.assertRaises(FAKE.Err) as e:
            Runner().setup()
        self.assertEqual(e.exception.value, "no setup")

    def test_params_check_sleep(self) -> None:
        FAKE.params = {"n": " 7 ", "bad": "x"}
        self.assertEqual(stampede.param_int("n", 1), 7)
        self.assertEqual(stampede.param_int("missing", 1), 1)
        self.assertEqual(stampede.param("missing", "d"), "d")
        with self.assertRaises(ValueError):
            stampede.param_int("bad", 1)
        self.assertTrue(stampede.check("c", 1, [("a", "b")]))
        self.assertEqual(FAKE.checks, [("c", True, [("a", "b")])])
        stampede.sleep_ms(0); stampede.sleep_ms(2.1); stampede.sleep(0.5)
        # Seconds from whole microseconds: 2.007 * 1000 is 2007.0000000000002, which rounded up is 2008.
        stampede.sleep(2.007); stampede.sleep(0.0012)
        self.assertEqual(FAKE.sleeps, [3, 500, 2007, 2])

    def test_wrong_arguments_raise_before_reaching_the_host(self) -> None:
        # Given to the generated bindings, each of these would panic (uncatchable, no traceback).
        FAKE.metrics.clear()
        cases = [
            (lambda: stampede.get(None), TypeError, "GET request: url must be a str, got None"),
            (lambda: stampede.get(8080), TypeError, "url must be a str, got 8080 (int)"),
            (lambda: stampede.get("/products"), ValueError,
             "url must be an absolute http:// or https:// URL (http://host:port/path), got '/products'"),
            (lambda: stampede.get("127.0.0.1:18080/"), ValueError, "absolute http:// or https:// URL"),
            (lambda: stampede.get("ftp://h/"), ValueError, "absolute http:// or https:// URL"),
            (lambda: stampede.get("http:///path"), ValueError, "absolute http:// or https:// URL"),
            (lambda: stampede.request(None, "http://h/"), TypeError, "request: method must be a str, got None"),
            (lambda: stampede.get("http://h/", name=17), TypeError, "GET request: name must be a str, got 17"),
            (lambda: stampede.get("http://h/", bearer=17), TypeError, "bearer must be a str, got 17 (int)"),
            (lambda: stampede.get("http://h/", headers="x-a: 1"), TypeError,
             "headers must be a dict or a list of (name, value) pairs, got 'x-a: 1' (str)"),
            (lambda: stampede.get("http://h/", tags=5), TypeError, "tags must be a dict or a list of"),
            (lambda: stampede.get("http://h/", tags=[("a", "b", "c")]), TypeError, "tags must be a dict"),
            (lambda: stampede.post("http://h/", 42), TypeError,
             "POST request: body must be bytes, a str, a dict or list (sent as JSON) or None, got 42 (int)"),
            (lambda: stampede.post("http://h/", {"when": object()}), TypeError,
             "POST request: body is sent as JSON, but Object of type object is not JSON serializable"),
            (lambda: stampede.post("http://h/", json={1j}), TypeError, "POST request: json is sent as JSON"),
            (lambda: stampede.post("http://h/", b"x", json={}), ValueError, "pass body or json, not both"),
            (lambda: stampede.get("http://h/", timeout_ms="100"), TypeError,
             "timeout_ms must be a number of milliseconds, got '100' (str)"),
            (lambda: stampede.get("http://h/", timeout_ms=True), TypeError, "got True (bool)"),
            (lambda: stampede.get("http://h/", timeout_ms=float("nan")), ValueError, "got NaN"),
            (lambda: stampede.get("http://h/", timeout_ms=-1), ValueError,
             "timeout_ms must be from 0 to 4294967295 milliseconds, got -1"),
            (lambda: stampede.get("http://h/", timeout_ms=2 ** 32), ValueError, "from 0 to 4294967295"),
            (lambda: stampede.get("http://h/", timeout_ms=float("inf")), ValueError, "from 0 to 4294967295"),
            (lambda: stampede.check(123, True), TypeError, "check: name must be a str, got 123 (int)"),
            (lambda: stampede.check(None, True), TypeError, "check(name, ok)"),
            (lambda: stampede.check("ok", lambda r: True), TypeError, "ok is a function, which is always true"),
            (lambda: stampede.check("c", True, tags="k=v"), TypeError, "check: tags must be a dict"),
            (lambda: stampede.counter_add(None), TypeError, "counter_add: name must be a str, got None"),
            (lambda: stampede.rate_add(b"r", True), TypeError, "rate_add: name must be a str, got b'r' (bytes)"),
            (lambda: stampede.trend_add("t", "slow"), ValueError, "trend_add: value must be a number, got 'slow'"),
            (lambda: stampede.gauge_set("g", None), TypeError, "gauge_set: value must be a number, got None"),
            (lambda: stampede.gauge_set("g", 1, tags=7), TypeError, "gauge_set: tags must be a dict"),
            (lambda: stampede.param(None), TypeError, "param: name must be a str, got None"),
            (lambda: stampede.param_int(1, 0), TypeError, "param_int: name must be a str"),
            (lambda: stampede.param_float(1, 0.0), TypeError, "param_float: name must be a str"),
            (lambda: stampede.env(["HOME"]), TypeError, "env: name must be a str, got ['HOME'] (list)"),
            (lambda: stampede.sleep_ms("1s"), TypeError,
             "sleep_ms: ms must be a number of milliseconds, got '1s' (str)"),
            (lambda: stampede.sleep_ms(float("nan")), ValueError, "got NaN"),
            (lambda: stampede.sleep("1s"), TypeError,
             "sleep(seconds) takes a number of seconds (sleep(0.5) is half a second), got '1s' (str)"),
            (lambda: stampede.sleep(None), TypeError, "got None; sleep_ms takes milliseconds"),
            (lambda: stampede.sleep(float("nan")), ValueError, "got NaN"),
        ]
        for call, kind, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(kind) as e:
                    call()
                self.assertIn(message, str(e.exception))
        self.assertEqual((FAKE.sent, FAKE.checks, FAKE.metrics, FAKE.sleeps), ([], [], [], []))

    def test_long_or_unprintable_wrong_arguments_are_described_briefly(self) -> None:
        class NoRepr:
            def __repr__(self) -> str:
                raise RuntimeError("no repr")

        with self.assertRaises(TypeError) as e:
            stampede.get(NoRepr())
        self.assertIn("url must be a str, got ? (NoRepr)", str(e.exception))
        with self.assertRaises(TypeError) as e:
            stampede.check(["n"] * 100, True)
        self.assertLess(len(str(e.exception)), 250)
        self.assertIn("...", str(e.exception))

    def test_arguments_converted_as_the_js_sdk_does(self) -> None:
        # A dict or list body is JSON, with its content type unless one is given.
        stampede.post("http://h/login", {"user": "u"})
        stampede.put("http://h/ids", [1, 2])
        stampede.post("http://h/raw", {"a": 1}, headers=[("Content-Type", "text/x-json")])
        self.assertEqual((FAKE.sent[0].body, FAKE.sent[0].headers),
                         (b'{"user":"u"}', [("content-type", "application/json")]))
        self.assertEqual((FAKE.sent[1].method, FAKE.sent[1].body), ("PUT", b"[1,2]"))
        self.assertEqual(FAKE.sent[2].headers, [("Content-Type", "text/x-json")])
        # Bytes-like bodies are bytes; a str is UTF-8 and gets no content type.
        stampede.post("http://h/", bytearray(b"ab"))
        stampede.post("http://h/", memoryview(b"cd"))
        stampede.post("http://h/", "é")
        self.assertEqual([r.body for r in FAKE.sent[3:6]], [b"ab", b"cd", "é".encode("utf-8")])
        self.assertEqual([type(r.body) for r in FAKE.sent[3:6]], [bytes, bytes, bytes])
        self.assertEqual(FAKE.sent[5].headers, [])
        # timeout_ms: rounded up to whole milliseconds, within the WIT's u32.
        for given, sent in [(100.5, 101), (0.1, 1), (0, 0), (7, 7), (4294967295, 4294967295)]:
            stampede.get("http://h/", timeout_ms=given)
            self.assertEqual((FAKE.sent[-1].timeout_ms, type(FAKE.sent[-1].timeout_ms)), (sent, int))
        # Tag and header values go through str(); a bearer token may be bytes (setup data is).
        stampede.get("HTTPS://h/", headers={"x-n": 1}, tags=[("try", 2)], bearer=b"tok")
        self.assertEqual(FAKE.sent[-1].headers, [("x-n", "1"), ("authorization", "Bearer tok")])
        self.assertEqual(FAKE.sent[-1].tags, [("try", "2")])
        # Log lines take any object, as print does.
        stampede.warn({"an": "object"}); stampede.info(3); stampede.error(None); stampede.debug("text")
        self.assertEqual(FAKE.logs, [("WARN", "{'an': 'object'}"), ("INFO", "3"), ("ERROR", "None"),
                                     ("DEBUG", "text")])
        # Metric values are floats (a numeric str converts, as float() does).
        FAKE.metrics.clear()
        stampede.counter_add("c"); stampede.trend_add("t", "2.5"); stampede.gauge_set("g", True)
        self.assertEqual([m[2] for m in FAKE.metrics], [1.0, 2.5, 1.0])
        # Sleeps: negative is no wait, infinity is the longest the host takes.
        stampede.sleep_ms(-5); stampede.sleep(-1); stampede.sleep_ms(float("inf")); stampede.sleep(0.0001)
        self.assertEqual(FAKE.sleeps, [4294967295, 1])

    def test_setup_may_return_bytes_str_none_or_json(self) -> None:
        class Runner(stampede.Runner):
            def __init__(self, value: Any) -> None:
                self.value = value

            def setup(self) -> Any:
                return self.value

        cases = [(b"raw", b"raw"), (bytearray(b"ba"), b"ba"), ("tökén", "tökén".encode("utf-8")), (None, b""),
                 ({"token": "abc"}, b'{"token":"abc"}'), ([1, "a"], b'[1,"a"]'), (42, b"42"), (True, b"true")]
        for value, data in cases:
            with self.subTest(value=value):
                self.assertEqual(Runner(value).setup(), data)
                self.assertIs(type(Runner(value).setup()), bytes)
        # What cannot be sent fails setup with a message saying what to return (the run stops with it).
        with self.assertRaises(FAKE.Err) as e:
            Runner(object()).setup()
        self.assertEqual(e.exception.value, "Runner.setup: the value it returned is sent as JSON, but Object of "
                                            "type object is not JSON serializable; return bytes, a str, None, "
                                            "or a value JSON can hold (a dict, a list, ...)")
        self.assertEqual(FAKE.logs, [])

    def test_rng_matches_splitmix64_and_rust(self) -> None:
        rng = stampede.Rng(0)
        self.assertEqual(rng.next_u64(), 0xE220A8397B1DCDAF)  # the published SplitMix64 sequence
        self.assertEqual(rng.next_u64(), 0x6E789E6AA1B965F4)
        self.assertEqual(stampede.Rng.seeded(1, 2).state, stampede.Rng.seeded(1, 2).state)
        self.assertNotEqual(stampede.Rng.seeded(1, 2).state, stampede.Rng.seeded(2, 1).state)
        r = stampede.Rng(42)
        seen = {r.between(3, 7) for _ in range(1000)}
        self.assertEqual(seen, {3, 4, 5, 6, 7})
        self.assertIsNone(r.pick([]))
        self.assertTrue(all(0.0 <= r.random() < 1.0 for _ in range(100)))

    def test_tasks_follow_weights_and_prefix_errors(self) -> None:
        tasks = stampede.Tasks().task(3, "x", lambda s: "x").task(0, "off", lambda s: "off").task(1, "y", lambda s: "y")
        counts = {"x": 0, "off": 0, "y": 0}
        for it in range(20000):
            counts[tasks.run_one(None, stampede.Rng.seeded(1 + it % 50, it, stampede._TASK_STREAM))] += 1
        self.assertEqual(counts["off"], 0)
        self.assertTrue(0.73 < counts["x"] / 20000 < 0.77, counts)

        def boom(_s: Any) -> None:
            raise stampede.Fail("boom")

        with self.assertRaises(stampede.Fail) as e:
            stampede.Tasks().task(1, "b", boom).run_one(None)
        self.assertEqual(str(e.exception), "b: boom")


def _load_shared_sdk() -> types.ModuleType:
    """stampede.py as it loads in a component for the world `scenario-shared`: the async imports and
    the exported `shared_runner` protocol exist. Loaded as a second module, so `stampede` above keeps
    behaving as in a `scenario` component."""
    import asyncio
    import importlib.util

    async def send(req: Any) -> Any:
        FAKE.sent.append(req)
        await asyncio.sleep(0)  # let the other VUs run
        if isinstance(FAKE.reply, Exception):
            raise FAKE.reply
        return FAKE.reply or FAKE_RESPONSE(200, "", b"", FAKE_TIMINGS(1.0, 0.0, 1.0, 0.0))

    async def sleep(ms: int) -> None:
        FAKE.sleeps.append(ms)
        await asyncio.sleep(0)

    fakes = {}
    for name, attrs in [("wit_world.imports.http_async", {"send": send}),
                        ("wit_world.imports.time_async", {"sleep": sleep}),
                        ("wit_world.exports.shared_runner", {"Vu": type("Vu", (), {})})]:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        fakes[name] = m
    sys.modules.update(fakes)
    for name, m in fakes.items():
        parent, _, leaf = name.rpartition(".")
        setattr(sys.modules[parent], leaf, m)
    try:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stampede.py")
        spec = importlib.util.spec_from_file_location("stampede_shared", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name in fakes:
            parent, _, leaf = name.rpartition(".")
            del sys.modules[name]
            delattr(sys.modules[parent], leaf)
    return module


def _host_context_unavailable() -> Any:
    raise AssertionError("the host traps context.vu-id, iteration and scenario in a shared instance")


SHARED = _load_shared_sdk()


class SharedTest(unittest.TestCase):
    def setUp(self) -> None:
        FAKE.sent.clear(); FAKE.checks.clear(); FAKE.logs.clear(); FAKE.sleeps.clear()
        FAKE.reply = None; FAKE.params = {}

    def test_each_vu_keeps_its_identity_across_awaits(self) -> None:
        import asyncio

        seen = []

        class Vu(SHARED.SharedVu):
            async def init(self, setup_data: bytes) -> None:
                self.data = setup_data
                seen.append(("init", SHARED.vu_id(), SHARED.iteration(), SHARED.scenario()))

            async def iteration(self, scenario: str) -> None:
                before = (SHARED.vu_id(), SHARED.iteration(), SHARED.scenario())
                await SHARED.get_async("http://h/", name="home")
                await SHARED.sleep_async(0.0015)
                after = (SHARED.vu_id(), SHARED.iteration(), SHARED.scenario())
                seen.append((before, after, SHARED.Rng.for_iteration().state))

        async def main() -> None:
            vus = [Vu(7, b"a"), Vu(9, b"b")]
            await asyncio.gather(*(vu.init() for vu in vus))
            await asyncio.gather(vus[0].iteration("main", 3), vus[1].iteration("other", 5))

        from unittest import mock
        context = sys.modules["wit_world.imports.context"]
        with mock.patch.object(context, "vu_id", _host_context_unavailable), \
                mock.patch.object(context, "iteration", _host_context_unavailable), \
                mock.patch.object(context, "scenario", _host_context_unavailable):
            asyncio.run(main())
            # Outside a VU's call: id 0, as in setup and teardown.
            self.assertEqual((SHARED.vu_id(), SHARED.iteration(), SHARED.scenario()), (0, 0, ""))
        self.assertEqual(seen[:2], [("init", 7, 0, ""), ("init", 9, 0, "")])
        self.assertEqual(seen[2][:2], ((7, 3, "main"), (7, 3, "main")))
        self.assertEqual(seen[3][:2], ((9, 5, "other"), (9, 5, "other")))
        self.assertEqual(seen[2][2], SHARED.Rng.seeded(7, 3).state)
        self.assertEqual((FAKE.sent[0].name, FAKE.sleeps), ("home", [2, 2]))


    def test_shared_errors(self) -> None:
        import asyncio

        class Unprintable(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no text")

        class Vu(SHARED.SharedVu):
            async def iteration(self, scenario: str) -> None:
                if scenario == "fail":
                    raise SHARED.Fail("nope")
                if scenario == "http":
                    await SHARED.get_async("http://h/")
                if scenario == "bug":
                    {}["x"]
                if scenario == "oom":
                    raise MemoryError("out of memory on purpose")
                if scenario == "exit":
                    raise SystemExit(3)
                if scenario == "cancelled":
                    task = asyncio.ensure_future(asyncio.sleep(10))
                    task.cancel()
                    await task
                if scenario == "unprintable":
                    raise Unprintable()
                if scenario.startswith("id "):
                    raise ValueError(scenario)

        vu = Vu(1, b"")
        asyncio.run(vu.init())
        asyncio.run(vu.iteration("ok", 0))
        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(vu.iteration("fail", 1))
        self.assertEqual(e.exception.value, "nope")
        FAKE.reply = FAKE.Err(FAKE.errors["Connect"]("refused"))
        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(vu.iteration("http", 2))
        self.assertEqual(e.exception.value, "connection failed: refused")
        # Any other exception fails only this VU's call: a trap would end the whole shared instance.
        # Its traceback is logged the first time only.
        for number in (3, 4):
            with self.assertRaises(FAKE.Err) as e:
                asyncio.run(vu.iteration("bug", number))
            self.assertEqual(e.exception.value, "Vu.iteration raised KeyError: 'x' (traceback logged)")
        self.assertEqual(len(FAKE.logs), 1)
        self.assertIn("Vu.iteration raised KeyError", FAKE.logs[0][1])
        self.assertIn("Traceback", FAKE.logs[0][1])
        asyncio.run(vu.iteration("ok", 5))
        # A cancelled task the VU awaited: its call fails, it does not hang or trap.
        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(vu.iteration("cancelled", 6))
        self.assertTrue(e.exception.value.startswith("Vu.iteration raised CancelledError"))
        # An exception whose __str__ fails is still reported.
        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(vu.iteration("unprintable", 7))
        self.assertEqual(e.exception.value, "Vu.iteration raised Unprintable: (its __str__ raised "
                                            "RuntimeError) (traceback logged)")
        # Past the cap of distinct exceptions, the error says their tracebacks are not logged.
        saved = SHARED._LOGGED_MAX
        SHARED._LOGGED_MAX = len(SHARED._LOGGED) + 1
        try:
            FAKE.logs.clear()
            for n in range(3):
                with self.assertRaises(FAKE.Err) as e:
                    asyncio.run(vu.iteration(f"id {n}", 8 + n))
            self.assertEqual(len(FAKE.logs), 1)
            self.assertEqual(e.exception.value, "Vu.iteration raised ValueError: id 2 (too many "
                                                "distinct exceptions to log each traceback)")
        finally:
            SHARED._LOGGED_MAX = saved
        # MemoryError, and BaseExceptions that are not Exceptions, still trap (after their traceback).
        FAKE.logs.clear()
        with self.assertRaises(MemoryError):
            asyncio.run(vu.iteration("oom", 11))
        with self.assertRaises(SystemExit):
            asyncio.run(vu.iteration("exit", 12))
        self.assertIn("Vu.iteration raised MemoryError: out of memory on purpose", FAKE.logs[0][1])
        self.assertIn("Vu.iteration raised SystemExit: 3", FAKE.logs[1][1])

        class BadStart(SHARED.SharedVu):
            async def init(self, setup_data: bytes) -> None:
                int("ten")

        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(BadStart(2, b"").init())
        self.assertTrue(e.exception.value.startswith("BadStart.init raised ValueError: invalid literal"))
        with self.assertRaises(TypeError) as t:
            class Blocking(SHARED.SharedVu):
                def iteration(self, scenario: str) -> None:
                    pass
        self.assertIn("Blocking.iteration must be `async def`", str(t.exception))
        self.assertTrue(issubclass(SHARED.SharedRunner, SHARED.Runner))

    def test_subclasses_can_call_super_and_tasks_can_be_async(self) -> None:
        import asyncio

        calls = []

        class Base(SHARED.SharedVu):
            async def init(self, setup_data: bytes) -> None:
                calls.append(("base init", setup_data, SHARED.vu_id()))

            async def iteration(self, scenario: str) -> None:
                calls.append(("base iteration", scenario, SHARED.iteration()))

        async def browse(vu: Any) -> str:
            await SHARED.sleep_ms_async(1)
            raise SHARED.Fail("out of stock")

        class Child(Base):
            async def init(self, setup_data: bytes) -> None:
                await super().init(setup_data + b"!")

            async def iteration(self, scenario: str) -> None:
                await super().iteration(scenario)
                tasks = SHARED.Tasks().task(1, "browse", browse)
                await tasks.run_one_async(self)

        vu = Child(4, b"x")
        asyncio.run(vu.init())
        with self.assertRaises(FAKE.Err) as e:
            asyncio.run(vu.iteration("main", 2))
        self.assertEqual(e.exception.value, "browse: out of stock")
        self.assertEqual(calls, [("base init", b"x!", 4), ("base iteration", "main", 2)])

    def test_async_helpers_need_the_shared_world(self) -> None:
        import asyncio

        with self.assertRaises(RuntimeError) as e:
            asyncio.run(stampede.get_async("http://h/"))
        self.assertIn("world scenario-shared", str(e.exception))
        self.assertIn("blocking request", str(e.exception))
        with self.assertRaises(RuntimeError):
            asyncio.run(stampede.sleep_async(1))

    def test_shared_helpers_check_their_arguments(self) -> None:
        import asyncio

        with self.assertRaises(TypeError) as e:
            asyncio.run(SHARED.get_async(None))
        self.assertIn("GET request: url must be a str, got None", str(e.exception))
        with self.assertRaises(TypeError) as e:
            asyncio.run(SHARED.post_async("http://h/", 3.5))
        self.assertIn("body must be bytes, a str, a dict or list", str(e.exception))
        with self.assertRaises(TypeError) as e:
            asyncio.run(SHARED.sleep_async("2"))
        self.assertIn("sleep_async(seconds) takes a number of seconds", str(e.exception))
        with self.assertRaises(ValueError):
            asyncio.run(SHARED.sleep_ms_async(float("nan")))
        self.assertEqual((FAKE.sent, FAKE.sleeps), ([], []))
        asyncio.run(SHARED.post_async("http://h/", {"a": 1}, timeout_ms=0.5))
        asyncio.run(SHARED.sleep_ms_async(1.2))
        self.assertEqual((FAKE.sent[0].body, FAKE.sent[0].timeout_ms, FAKE.sleeps), (b'{"a":1}', 1, [2]))


if __name__ == "__main__":
    unittest.main()
