// Unit tests for the SDK helper against a fake host (see wit-mock.mjs). Run from sdk/js:
//   node --import ./test/register.mjs --test test/
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  Counter,
  HttpError,
  IterationError,
  Rng,
  Tasks,
  check,
  context,
  exportScenario,
  fail,
  http,
  sleep,
  sleepMs,
} from '../stampede.js';

const decode = (bytes) => new TextDecoder().decode(bytes);

/** A component-level error as the generated bindings throw it for an imported `err`. */
function bindingsError(payload) {
  const e = new Error('(see error.payload)');
  Object.defineProperty(e, 'payload', { value: payload, enumerable: true });
  return e;
}

/** What the bindings send back for a value thrown out of an export: `err` payload or a trap. */
function exportOutcome(e) {
  if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) return { err: e.payload };
  return { trap: e };
}

let calls;
let state;

beforeEach(() => {
  calls = [];
  state = { vu: 3n, iteration: 0n, params: { think_ms: '50', bad: '5x' } };
  const record = (name) => (...args) => calls.push([name, ...args]);
  globalThis.wit = {
    http: {
      send: (req) => {
        calls.push(['send', req]);
        return {
          status: 200,
          headers: 'content-type: application/json\n',
          body: new TextEncoder().encode('{"token":"t-1"}'),
          timings: { durationMs: 1, connectingMs: 0, waitingMs: 1, receivingMs: 0 },
        };
      },
    },
    checks: { check: (name, ok, tags) => (calls.push(['check', name, ok, tags]), ok) },
    metrics: {
      counterAdd: record('counterAdd'),
      rateAdd: record('rateAdd'),
      trendAdd: record('trendAdd'),
      gaugeSet: record('gaugeSet'),
    },
    context: {
      vuId: () => state.vu,
      iteration: () => state.iteration,
      workerId: () => 'local',
      scenario: () => 'main',
      param: (name) => state.params[name],
      params: () => Object.entries(state.params),
      env: () => undefined,
    },
    time: { sleep: record('sleep'), nowMs: () => 1700000000000n },
    log: { write: record('write') },
  };
});

test('post builds the request record: JSON body, headers, bearer, name, tags, timeout', () => {
  const res = http.post(
    'http://h/login',
    { user: 'a' },
    { name: 'login', bearer: 'tok', tags: { page: 'x', n: 1 }, timeoutMs: 2.5 },
  );
  const [, req] = calls.find((c) => c[0] === 'send');
  assert.equal(req.method, 'POST');
  assert.equal(req.url, 'http://h/login');
  assert.equal(decode(req.body), '{"user":"a"}');
  assert.deepEqual(req.headers, [
    ['content-type', 'application/json'],
    ['authorization', 'Bearer tok'],
  ]);
  assert.equal(req.name, 'login');
  assert.equal(req.timeoutMs, 3);
  assert.deepEqual(req.tags, [['page', 'x'], ['n', '1']]);
  assert.equal(res.status, 200);
  assert.ok(res.ok);
  assert.equal(res.json().token, 't-1');
  assert.equal(res.header('Content-Type'), 'application/json');
});

test('get sends no body, and options stay optional', () => {
  http.get('http://h/');
  const [, req] = calls.find((c) => c[0] === 'send');
  assert.equal(req.method, 'GET');
  assert.equal(req.body, undefined);
  assert.equal(req.name, undefined);
  assert.equal(req.timeoutMs, undefined);
  assert.deepEqual(req.headers, []);
  assert.deepEqual(req.tags, []);
});

test('string and byte bodies are sent as they are', () => {
  http.put('http://h/a', 'plain', { headers: [['Content-Type', 'text/plain']] });
  http.patch('http://h/b', new Uint8Array([1, 2]));
  const sent = calls.filter((c) => c[0] === 'send').map((c) => c[1]);
  assert.equal(decode(sent[0].body), 'plain');
  assert.deepEqual(sent[0].headers, [['Content-Type', 'text/plain']]);
  assert.deepEqual([...sent[1].body], [1, 2]);
});

test('an http-error becomes an HttpError that the bindings report as err(message)', () => {
  globalThis.wit.http.send = () => {
    throw bindingsError({ tag: 'connect', val: 'connection refused' });
  };
  let thrown;
  try {
    http.get('http://h/x', { name: 'x' });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof HttpError);
  assert.ok(thrown instanceof IterationError);
  assert.equal(thrown.kind, 'connect');
  assert.equal(thrown.detail, 'connection refused');
  assert.deepEqual(exportOutcome(thrown), { err: 'GET x: connection failed (connection refused)' });
});

test("the host's header block is split into pairs on first use", () => {
  globalThis.wit.http.send = () => ({
    status: 200,
    headers: 'content-type: text/plain\nset-cookie: a=1\nset-cookie: b=2; Path=/\nx-empty: \nx-url: http://h:1/\n',
    body: new Uint8Array(),
    timings: {},
  });
  const res = http.get('http://h/');
  assert.equal(res.header('Content-Type'), 'text/plain');
  assert.equal(res.header('x-url'), 'http://h:1/');
  assert.equal(res.header('x-empty'), '');
  assert.equal(res.header('x-missing'), undefined);
  assert.deepEqual(res.headers, [
    ['content-type', 'text/plain'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2; Path=/'],
    ['x-empty', ''],
    ['x-url', 'http://h:1/'],
  ]);
  assert.equal(res.headers, res.headers, 'split once, then kept');
});

test('a body that is not JSON fails the iteration, it does not trap', () => {
  globalThis.wit.http.send = () => ({ status: 500, headers: '', body: new Uint8Array([60]), timings: {} });
  const res = http.get('http://h/');
  assert.throws(() => res.json(), IterationError);
  assert.equal(res.ok, false);
});

test('check, counters and sleep convert their arguments', () => {
  assert.equal(check('ok', 1, { a: 'b' }), true);
  assert.equal(check('not ok', 0), false);
  new Counter('c').add();
  sleepMs(0);
  sleepMs(1.2);
  // Seconds, as k6's sleep; whole microseconds first, so 1.1 s is 1100 ms, not 1101.
  sleep(1.1);
  sleep(0.0012);
  sleep(0);
  assert.deepEqual(calls, [
    ['check', 'ok', true, [['a', 'b']]],
    ['check', 'not ok', false, []],
    ['counterAdd', 'c', 1, []],
    ['sleep', 2],
    ['sleep', 1100],
    ['sleep', 2],
  ]);
  assert.throws(() => sleep('1s'), /sleep\(seconds\) takes a number of seconds, as in k6 .* got a string; sleepMs\(ms\) takes milliseconds/);
  assert.throws(() => sleepMs(undefined), /sleepMs\(ms\) takes a number of milliseconds, got undefined/);
});

test("check takes k6's form: one check per entry, true when all held", () => {
  const res = { status: 500 };
  const all = check(res, { 'status is 200': (r) => r.status === 200, 'is 5xx': (r) => r.status >= 500, 'plain': 1 }, { t: 'x' });
  assert.equal(all, false);
  assert.deepEqual(calls, [
    ['check', 'status is 200', false, [['t', 'x']]],
    ['check', 'is 5xx', true, [['t', 'x']]],
    ['check', 'plain', true, [['t', 'x']]],
  ]);
  assert.equal(check(res, { 'is 500': (r) => r.status === 500 }), true);
  // A string value (a body's text) with checks to run is k6's form too, not a check named after it.
  calls.length = 0;
  assert.equal(check('{"id": 1}', { 'has id': (b) => b.includes('"id"') }), true);
  assert.deepEqual(calls, [['check', 'has id', true, []]]);
  // A name that is not a string, without checks to run, is a mistake: it was recorded as "[object Object]".
  assert.throws(() => check(res, true), /check\(name, ok\) takes the check's name as a string, got an object/);
});

test('a request needs an absolute URL and known options', () => {
  assert.throws(() => http.get(), /http.get\(url, ...\) takes the URL as a string, got undefined/);
  assert.throws(() => http.get(12345), /takes the URL as a string, got number/);
  assert.throws(() => http.get('/relative'), /"\/relative" is not an absolute http:\/\/ or https:\/\/ URL/);
  assert.throws(() => http.get('ftp://h/'), /not an absolute http/);
  assert.throws(() => http.get('http://h/', { timeout: '100ms' }), /unknown request option 'timeout' \(options: headers, tags, body, json, bearer, name, timeoutMs\); did you mean timeoutMs/);
  assert.throws(() => http.post('http://h/', 'x', 'oops'), /request options must be an object, got a string/);
  assert.deepEqual(calls, [], 'nothing was sent');
  // No options, or null (k6 scripts pass null), are fine; so is an option set to undefined, a URL
  // object, an upper-case scheme and an IPv6 literal.
  http.get('https://h/', null);
  http.post('http://h/', 'b', null);
  http.get('http://h/', { timeout: undefined });
  http.get(new URL('http://h/path?q=1'), {});
  http.get('HTTP://[::1]:8080/');
  assert.equal(calls.length, 5);
  assert.equal(calls[3][1].url, 'http://h/path?q=1');
});

test('context converts ids to numbers and parses integer params', () => {
  assert.equal(context.vuId(), 3);
  assert.equal(context.param('missing', 'd'), 'd');
  assert.equal(context.paramInt('think_ms', 100), 50);
  assert.equal(context.paramInt('missing', 100), 100);
  assert.throws(() => context.paramInt('bad', 1), IterationError);
  assert.deepEqual(context.params(), { think_ms: '50', bad: '5x' });
});

test('Rng.forIteration is reproducible per VU and iteration', () => {
  const draw = () => Array.from({ length: 5 }, (_, i, r = Rng.forIteration()) => r.nextU32());
  const first = draw();
  assert.deepEqual(draw(), first);
  state.iteration = 1n;
  assert.notDeepEqual(draw(), first);
  const rng = new Rng(42);
  for (let i = 0; i < 1000; i++) {
    const n = rng.below(7);
    assert.ok(n >= 0 && n < 7 && Number.isInteger(n));
  }
  assert.equal(rng.pick([]), undefined);
});

test('Tasks picks by weight and prefixes task errors', () => {
  const counts = { a: 0, b: 0, c: 0 };
  const tasks = new Tasks()
    .task(3, 'a', (s) => s.a++)
    .task(2, 'b', (s) => s.b++)
    .task(1, 'c', (s) => s.c++);
  for (let i = 0; i < 6000; i++) {
    state.iteration = BigInt(i);
    tasks.runOne(counts);
  }
  assert.ok(Math.abs(counts.a - 3000) < 250, JSON.stringify(counts));
  assert.ok(Math.abs(counts.b - 2000) < 250, JSON.stringify(counts));
  assert.ok(Math.abs(counts.c - 1000) < 250, JSON.stringify(counts));

  const failing = new Tasks().task(1, 'buy', () => fail('sold out'));
  assert.throws(() => failing.runOne({}), { name: 'IterationError', message: 'buy: sold out' });
  const broken = new Tasks().task(1, 'buy', () => {
    throw new TypeError('bug');
  });
  assert.throws(() => broken.runOne({}), TypeError);
});

test('exportScenario: setup/teardown errors become err, iteration bugs are logged and trap', async () => {
  class Vu {
    constructor(data) {
      this.data = decode(data);
      this.closed = false;
    }
    iteration(scenario) {
      if (scenario === 'fail') fail('expected');
      if (scenario === 'bug') null.x();
      if (scenario === 'string') throw 'a plain string';
      if (scenario === 'async') return Promise.reject(new IterationError('later'));
    }
    close() {
      calls.push(['close', this.data]);
    }
    static setup() {
      return 'seed';
    }
  }
  const runner = exportScenario(Vu);
  assert.equal(decode(runner.setup()), 'seed');
  assert.equal(runner.teardown(new Uint8Array()), undefined);

  const vu = new runner.Vu(new TextEncoder().encode('seed'));
  assert.equal(vu.iteration('ok'), undefined);
  assert.deepEqual(exportOutcome(catchSync(() => vu.iteration('fail'))), { err: 'expected' });
  const bug = exportOutcome(catchSync(() => vu.iteration('bug')));
  assert.ok(bug.trap instanceof TypeError);
  assert.ok(calls.some((c) => c[0] === 'write' && c[1] === 'error' && c[2].includes('TypeError')));
  // A thrown non-Error traps too (the bindings would take a bare string for the call's err).
  const thrown = catchSync(() => vu.iteration('string'));
  assert.ok(thrown instanceof Error && !('payload' in thrown), String(thrown));
  assert.match(thrown.message, /iteration threw a plain string/);
  await assert.rejects(vu.iteration('async'), { payload: 'later' });
  vu[Symbol.dispose || Symbol.for('dispose')]();
  assert.ok(calls.some((c) => c[0] === 'close' && c[1] === 'seed'));

  class Broken {
    iteration() {}
    static setup() {
      throw new RangeError('no data');
    }
  }
  const broken = exportScenario(Broken);
  assert.deepEqual(exportOutcome(catchSync(() => broken.setup())), { err: 'RangeError: no data' });
  assert.equal(exportScenario(Broken).teardown(new Uint8Array()), undefined);

  // A constructor's failure of any kind is logged before it traps, an `IterationError` too.
  class LoginFails {
    constructor() {
      fail('login: status 503');
    }
    iteration() {}
  }
  const failed = catchSync(() => new (exportScenario(LoginFails).Vu)(new Uint8Array()));
  assert.equal(failed.name, 'IterationError');
  assert.ok(
    calls.some((c) => c[0] === 'write' && c[1] === 'error' && c[2].includes('login: status 503')),
    JSON.stringify(calls),
  );

  class Plain {
    iteration() {}
  }
  assert.deepEqual([...exportScenario(Plain).setup()], []);
  assert.throws(() => exportScenario(class {}), TypeError);
});

function catchSync(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
