// Unit tests for shared.js (shared isolation, componentize-qjs) against a fake host (wit-mock.mjs).
//   node --import ./test/register.mjs --test test/
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  HttpError,
  IterationError,
  Rng,
  Tasks,
  blockingHttp,
  check,
  context,
  exportSharedScenario,
  fail,
  http,
  sleep,
  sleepMs,
  utf8Decode,
} from '../shared.js';

/** A future as componentize-qjs hands it over: `read()` resolves to the payload. */
const future = (value) => ({
  read: () => Promise.resolve(value),
  drop: () => calls.push(['drop']),
});
const raw = (status, body) => ({
  status,
  headers: 'content-type: application/json\n',
  body: new TextEncoder().encode(body),
  timings: { durationMs: 1, connectingMs: 0, waitingMs: 1, receivingMs: 0 },
});

let calls;
let next;

beforeEach(() => {
  calls = [];
  next = { tag: 'ok', val: raw(200, '{"token":"t-1"}') };
  const record = (name) => (...args) => calls.push([name, ...args]);
  globalThis.wit = {
    'http-future': { send: (req) => (calls.push(['send', req]), future(next)) },
    'time-future': { sleep: (ms) => (calls.push(['sleep', ms]), future(ms)) },
    http: {
      send: (req) => {
        calls.push(['blockingSend', req]);
        if (next.tag === 'err') throw next.val;
        return next.val;
      },
    },
    checks: { check: (name, ok, tags) => (calls.push(['check', name, ok, tags]), ok) },
    metrics: {},
    context: {
      workerId: () => 'local',
      param: (name) => ({ url: 'http://127.0.0.1:1/', n: '5' })[name] ?? null,
      params: () => [['url', 'http://127.0.0.1:1/']],
      env: () => null,
    },
    time: { nowMs: () => 1700000000000n },
    log: { write: record('write') },
  };
});

test('http resolves to a Response and sends the same request record as the blocking client', async () => {
  const res = await http.post('http://127.0.0.1:1/login', { user: 'a' }, { name: 'login', tags: { t: 1 } });
  assert.equal(res.status, 200);
  assert.equal(res.json().token, 't-1');
  assert.equal(res.header('Content-Type'), 'application/json');
  const [, req] = calls.find((c) => c[0] === 'send');
  assert.equal(req.method, 'POST');
  assert.equal(utf8Decode(req.body), '{"user":"a"}');
  assert.deepEqual(req.tags, [['t', '1']]);
  assert.equal(req.name, 'login');

  assert.equal(calls.filter((c) => c[0] === 'drop').length, 1, 'the future handle is dropped');

  assert.equal(blockingHttp.get('http://127.0.0.1:1/').status, 200);
  assert.equal(calls.at(-1)[0], 'blockingSend');
});

test('an http-error rejects with an HttpError, from either client', async () => {
  next = { tag: 'err', val: { tag: 'origin-not-allowed', val: 'http://10.0.0.1:80 is not in the plan\'s targets' } };
  await assert.rejects(http.get('http://10.0.0.1/'), (e) => {
    assert.ok(e instanceof HttpError && e instanceof IterationError);
    assert.equal(e.kind, 'origin-not-allowed');
    assert.match(e.message, /^GET http:\/\/10\.0\.0\.1\/: origin not in the plan's targets/);
    return true;
  });
  assert.throws(() => blockingHttp.get('http://10.0.0.1/'), (e) => e instanceof HttpError && e.kind === 'origin-not-allowed');
});

test('sleep awaits the host future, in seconds (sleepMs in ms), rounded up; none for 0', async () => {
  await sleep(0.0012);
  await sleep(0);
  await sleepMs(1.2);
  assert.deepEqual(
    calls.filter((c) => c[0] === 'sleep' || c[0] === 'drop'),
    [['sleep', 2], ['drop'], ['sleep', 2], ['drop']],
  );
  await assert.rejects(sleep('1s'), /takes a number of seconds/);
});

test('context has params but no VU id; check converts; Tasks needs a generator', () => {
  assert.equal(context.param('url'), 'http://127.0.0.1:1/');
  assert.equal(context.param('missing', 'x'), 'x');
  assert.equal(context.paramInt('n', 0), 5);
  assert.equal(context.env('HOME'), undefined);
  assert.throws(() => context.vuId(), /not available in shared isolation.*constructor's vuId/);
  assert.throws(() => Rng.forIteration(), /Rng\.seeded\(vuId, number\)/);
  assert.ok(Rng.seeded(1, 2) instanceof Rng);
  assert.equal(check('c', 1), true);
  const tasks = new Tasks().task(1, 'only', () => 'ran');
  assert.equal(tasks.runOne({}, Rng.seeded(1, 0)), 'ran');
  assert.throws(() => tasks.runOne({}), /pass Rng\.seeded/);
});

test('exportSharedScenario: exceptions fail only the call, their stack logged once', async () => {
  class Vu {
    constructor(vuId, setupData) {
      if (vuId === 13) throw new Error('unlucky');
      this.vuId = vuId;
      this.data = utf8Decode(setupData);
    }
    async init() {
      this.ready = true;
    }
    async iteration(scenario, number) {
      if (scenario === 'fail') fail('expected');
      if (scenario === 'bug') null.x();
      await sleep(1);
      return number;
    }
    static setup() {
      return { seed: 1 };
    }
  }
  const runner = exportSharedScenario(Vu);
  assert.equal(utf8Decode(runner.setup()), '{"seed":1}');
  assert.equal(runner.teardown(new Uint8Array()), undefined);

  const vu = new runner.Vu(7n, new TextEncoder().encode('seed'));
  await vu.init();
  assert.equal(await vu.iteration('ok', 4n), 4);
  await assert.rejects(vu.iteration('fail', 5n), { payload: 'expected' });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(vu.iteration('bug', 6n), (e) => {
      assert.ok(e instanceof IterationError);
      assert.match(e.payload, /^iteration threw TypeError: .* \(stack logged\)$/);
      return true;
    });
  }
  const logged = calls.filter((c) => c[0] === 'write' && c[1] === 'error');
  assert.equal(logged.length, 1, 'the same exception is logged once');
  assert.match(logged[0][2], /^scenario threw in iteration: TypeError/);

  const unlucky = new runner.Vu(13n, new Uint8Array());
  await assert.rejects(unlucky.init(), { payload: 'constructor threw Error: unlucky (stack logged)' });

  class AsyncSetup {
    async iteration() {}
    static async setup() {
      return 'late';
    }
  }
  assert.throws(() => exportSharedScenario(AsyncSetup).setup(), (e) => /setup returned a promise/.test(e.payload));
  class AsyncTeardown {
    async iteration() {}
    static async teardown() {}
  }
  assert.throws(
    () => exportSharedScenario(AsyncTeardown).teardown(new Uint8Array()),
    (e) => /teardown returned a promise/.test(e.payload),
  );
  assert.throws(() => exportSharedScenario(class {}), TypeError);
  class Closing {
    async iteration() {}
    close() {}
  }
  assert.throws(() => exportSharedScenario(Closing), /never calls/);
});

test('shared.js installs the UTF-8 stand-ins only where the engine has no TextEncoder/TextDecoder', async () => {
  const { TextEncoder: encoder, TextDecoder: decoder } = globalThis;
  try {
    // As in QuickJS: no codecs. A fresh copy of the module installs its stand-ins.
    delete globalThis.TextEncoder;
    delete globalThis.TextDecoder;
    await import('../shared.js?without-codecs');
    assert.equal(globalThis.TextEncoder.name, 'Utf8TextEncoder');
    assert.equal(globalThis.TextDecoder.name, 'Utf8TextDecoder');
    assert.deepEqual([...new globalThis.TextEncoder().encode('é€')], [0xc3, 0xa9, 0xe2, 0x82, 0xac]);
    // Where the engine has them, they stay.
    globalThis.TextEncoder = encoder;
    globalThis.TextDecoder = decoder;
    await import('../shared.js?with-codecs');
    assert.equal(globalThis.TextEncoder, encoder);
    assert.equal(globalThis.TextDecoder, decoder);
  } finally {
    globalThis.TextEncoder = encoder;
    globalThis.TextDecoder = decoder;
  }
});
