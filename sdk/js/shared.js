// Stampede's JavaScript SDK for shared isolation: many VUs as concurrent async calls in one instance
// (`isolation = "shared"`). Built with componentize-qjs (the QuickJS engine) for the world
// `stampede:scenario/scenario-shared-futures@0.2.0` (see ../../wit/stampede.wit): `node
// sdk/js/build.mjs --shared entry.js out.wasm`. One QuickJS instance costs ~1 MiB; a VU in it a few KiB.
//
//     import { exportSharedScenario, http, check, sleep, context } from '../../sdk/js/shared.js';
//
//     class Hello {
//       constructor(vuId, setupData) { this.vuId = vuId; }   // quick, no requests
//       async init() { this.url = context.param('url'); }   // once per VU: log in here
//       async iteration(scenario, number) {
//         const res = await http.get(this.url);
//         check('status is 200', res.status === 200);
//         await sleep(0.1); // seconds, as in k6
//       }
//     }
//     export const sharedRunner = exportSharedScenario(Hello);
//
// Every VU of the instance shares its globals. `await` every request and sleep: while one VU waits,
// the others run. `blockingHttp` (the blocking client) stalls every VU of the instance: use it only in
// `setup` and `teardown`, which run in an instance of their own and cannot be async.
//
// Errors: an `IterationError` (`fail()`, or an `HttpError` let escape) fails the call with its message.
// Any other exception fails only that call too (its stack is logged once per distinct error), never
// the instance: `init` then fails the VU's start (the host retries it a second later), `iteration`
// counts as failed and the VU goes on.

import { send } from 'stampede:scenario/http-future@0.2.0';
import { send as blockingSend } from 'stampede:scenario/http@0.2.0';
import { sleep as hostSleep } from 'stampede:scenario/time-future@0.2.0';
import {
  EMPTY,
  HttpError,
  IterationError,
  Rng as CoreRng,
  Tasks as CoreTasks,
  httpHelper,
  requestRecord,
  Response,
  setupBytes,
  sleepMsWhole,
  sleepSecondsMs,
  Utf8TextDecoder,
  Utf8TextEncoder,
} from './core.js';
import { baseContext, logThrown } from './common.js';

// QuickJS has no TextEncoder/TextDecoder: utf8Encode(text) and utf8Decode(bytes) stand in, and so
// do the globals below.
export { fail, HttpError, IterationError, Response, TASK_STREAM, utf8Decode, utf8Encode } from './core.js';
export { check, Counter, Rate, Trend, Gauge, log, nowMs } from './common.js';

// Scenario code and bundled libraries may use the standard names: stand-ins for UTF-8 when the
// engine has none (QuickJS). Modules evaluate in import order, so a library that uses them at its
// top level must be imported after this module.
if (typeof globalThis.TextEncoder !== 'function') globalThis.TextEncoder = Utf8TextEncoder;
if (typeof globalThis.TextDecoder !== 'function') globalThis.TextDecoder = Utf8TextDecoder;

// ---------------------------------------------------------------------------------------------------
// HTTP and think time

/**
 * Send one request and wait for its response (options: see `requestRecord` in core.js); only this
 * VU waits. Resolves to a `Response` for any status; rejects with an `HttpError` when no response
 * arrived.
 */
async function request(method, url, options = {}) {
  const req = requestRecord(method, url, options);
  const result = await readOnce(send(req));
  if (result.tag === 'err') throw new HttpError(req, result.val);
  return new Response(result.val);
}

/**
 * A host future's value, then its handle dropped: componentize-qjs does not drop one by itself, and
 * an instance holds a bounded number of handles (~100,000), so a handle kept per request would trap
 * the instance after that many.
 */
async function readOnce(future) {
  try {
    return await future.read();
  } finally {
    future.drop();
  }
}

/** `await http.get(url, options)`, `await http.post(url, body, options)`, ...; see `request`. */
export const http = httpHelper(request);

/**
 * The blocking client, for `setup` and `teardown`: in a VU's call it would stall every VU of the
 * instance until the response arrives. Same helpers as `http`, returning a `Response` (no promise).
 */
export const blockingHttp = httpHelper((method, url, options = {}) => {
  const req = requestRecord(method, url, options);
  let raw;
  try {
    raw = blockingSend(req);
  } catch (e) {
    // componentize-qjs throws a top-level `err` as its payload (the http-error variant).
    if (e && typeof e === 'object' && typeof e.tag === 'string') throw new HttpError(req, e);
    if (e && typeof e === 'object' && 'payload' in e) throw new HttpError(req, e.payload);
    throw e;
  }
  return new Response(raw);
});

/**
 * Pause this VU for `seconds`, as k6's `sleep` (rounded up to the millisecond):
 * `await sleep(0.5)`. Other VUs run meanwhile.
 */
export async function sleep(seconds) {
  const whole = sleepSecondsMs(seconds);
  if (whole > 0) await readOnce(hostSleep(whole));
}

/** Pause this VU for `ms` milliseconds (rounded up): `await sleepMs(100)`. */
export async function sleepMs(ms) {
  const whole = sleepMsWhole(ms);
  if (whole > 0) await readOnce(hostSleep(whole));
}

/**
 * The plan's params, the environment and the worker id. A VU's id and iteration come from the
 * constructor and `iteration`'s arguments: the host cannot tell which VU of a shared instance asks.
 */
export const context = {
  ...baseContext,
  vuId: notHere('context.vuId()', "the constructor's vuId argument"),
  iteration: notHere('context.iteration()', "iteration's number argument"),
  scenario: notHere('context.scenario()', "iteration's scenario argument"),
};

/** A stand-in for what stampede.js has and shared isolation cannot: it says what to use instead. */
function notHere(what, instead) {
  return () => {
    throw new TypeError(
      `${what} is not available in shared isolation (the host cannot tell which VU of an instance asks): use ${instead}`,
    );
  };
}

/** core.js's generator: `Rng.seeded(vuId, iteration, stream?)` gives reproducible choices. */
export class Rng extends CoreRng {
  static forIteration() {
    return notHere('Rng.forIteration()', 'Rng.seeded(vuId, number)')();
  }
}

/**
 * Weighted task choice (see core.js): `tasks.runOne(state, Rng.seeded(this.vuId, number))`. A shared
 * instance cannot tell which VU calls, so the generator is always passed.
 */
export class Tasks extends CoreTasks {
  defaultRng() {
    throw new TypeError('Tasks.runOne in shared isolation: pass Rng.seeded(vuId, iteration)');
  }
}

// ---------------------------------------------------------------------------------------------------
// Exporting a scenario

/** Distinct exceptions whose stack was logged, so a bug at every iteration logs once. */
const logged = new Set();
const LOGGED_MAX = 1000;

/** An exception as the call's `err` text, its stack logged the first time it is seen. */
function failure(where, e) {
  if (e instanceof IterationError) return e;
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const key = `${where}\n${text}`;
  if (!logged.has(key)) {
    if (logged.size < LOGGED_MAX) {
      logged.add(key);
      logThrown(where, e);
    } else if (logged.size === LOGGED_MAX) {
      // One line to say so, then no more stacks.
      logged.add('');
      logThrown(where, `${text} (and no more stacks: too many distinct exceptions)`);
    }
  }
  return new IterationError(`${where} threw ${text}${logged.has(key) ? ' (stack logged)' : ''}`);
}

/** Run `fn` (sync or async); any exception fails only this call, as described above. */
async function guarded(where, fn) {
  try {
    return await fn();
  } catch (e) {
    throw failure(where, e);
  }
}

/** Run the sync `fn` of `setup`/`teardown`; an exception becomes `err(message)`. */
function guardedSync(where, fn) {
  try {
    return fn();
  } catch (e) {
    throw failure(where, e);
  }
}

/**
 * What `setup` or `teardown` returned, refused if it is a promise: nothing would wait for it, and
 * its requests and errors would be lost.
 */
function synchronous(where, value) {
  if (value && typeof value.then === 'function') {
    throw new TypeError(`${where} returned a promise: in shared isolation it runs synchronously (use blockingHttp)`);
  }
  return value;
}

/**
 * Build the `sharedRunner` export from a class: `export const sharedRunner =
 * exportSharedScenario(MyVu);`.
 *
 * - `new MyVu(vuId, setupData)` creates the VU's state: quick and synchronous (no requests). An
 *   exception here fails the VU's start like one from `init`.
 * - optional `async myVu.init()` runs once before the first iteration (log in here).
 * - `async myVu.iteration(scenario, number)` runs one iteration; `number` counts the VU's earlier
 *   iterations (0 for the first).
 * - optional `static setup()` returns the setup data once per run (bytes, a string, any other object
 *   sent as JSON, or nothing), and `static teardown(setupData)` runs once at the end. Both are
 *   synchronous and may use `blockingHttp`.
 */
export function exportSharedScenario(Impl) {
  if (typeof Impl !== 'function') throw new TypeError('exportSharedScenario expects a class');
  const name = Impl.name || 'the scenario class';
  if (typeof Impl.prototype.iteration !== 'function') {
    throw new TypeError(`${name} has no iteration(scenario, number) method`);
  }
  if (typeof Impl.prototype.close === 'function' || typeof Impl.prototype[Symbol.dispose] === 'function') {
    // Said at build time rather than silently never called.
    throw new TypeError(
      `${name} has a close() or [Symbol.dispose]() method, which shared isolation never calls: ` +
        'release per-VU resources at the end of an iteration instead',
    );
  }

  class Vu {
    constructor(id, setupData) {
      // A throw out of a resource constructor would trap the instance (every VU in it): keep it
      // for `init`, which can fail just this VU.
      try {
        this.inner = new Impl(Number(id), setupData);
      } catch (e) {
        this.broken = e;
      }
    }

    init() {
      return guarded('init', () => {
        if (this.broken !== undefined) throw failure('constructor', this.broken);
        return typeof this.inner.init === 'function' ? this.inner.init() : undefined;
      });
    }

    iteration(scenario, number) {
      return guarded('iteration', () => this.inner.iteration(scenario, Number(number)));
    }
  }

  return {
    Vu,
    setup() {
      if (typeof Impl.setup !== 'function') return EMPTY;
      return guardedSync('setup', () => setupBytes(synchronous('setup', Impl.setup())));
    },
    teardown(setupData) {
      if (typeof Impl.teardown !== 'function') return;
      guardedSync('teardown', () => synchronous('teardown', Impl.teardown(setupData)));
    },
  };
}
