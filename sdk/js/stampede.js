// Stampede's JavaScript SDK: a thin, ergonomic layer over the world's imports
// (`stampede:scenario/*@0.2.0`, see ../../wit/stampede.wit and wit.d.ts).
//
// A scenario imports this file by relative path; `build.mjs` runs componentize-js from a folder that
// contains both the scenario and this SDK, and the module graph is evaluated and snapshotted at build
// time, so the component needs no file at run time.
//
//     import { exportScenario, http, check } from '../../sdk/js/stampede.js';
//
//     class Hello {
//       iteration() {
//         const res = http.get('http://127.0.0.1:18080/');
//         check('status is 200', res.status === 200);
//       }
//     }
//     export const runner = exportScenario(Hello);
//
// Errors: throw an `IterationError` (or let an `HttpError`, its subclass, escape) to fail one iteration
// (`iteration_errors{error=failed}`, the VU goes on). Any other exception traps the call, like a Rust
// panic: it is logged at `error` level first, and the host re-creates the VU. In the VU constructor
// every exception traps, and is logged first, an `IterationError` too.

import { send } from 'stampede:scenario/http@0.2.0';
import {
  vuId as hostVuId,
  iteration as hostIteration,
  scenario as hostScenario,
} from 'stampede:scenario/context@0.2.0';
import { sleep as hostSleep } from 'stampede:scenario/time@0.2.0';
import {
  EMPTY,
  HttpError,
  IterationError,
  Rng as CoreRng,
  TASK_STREAM,
  Tasks as CoreTasks,
  andThen,
  describe,
  attempt,
  httpHelper,
  requestRecord,
  Response,
  setupBytes,
  sleepMsWhole,
  sleepSecondsMs,
} from './core.js';
import { baseContext, logThrown } from './common.js';

export { fail, HttpError, IterationError, Response, utf8Decode, utf8Encode } from './core.js';
export { check, Counter, Rate, Trend, Gauge, log, nowMs } from './common.js';

// ---------------------------------------------------------------------------------------------------
// HTTP

/**
 * Send one request (options: see `requestRecord` in core.js). Returns a `Response` for any status;
 * throws an `HttpError` when no response arrived.
 */
function request(method, url, options = {}) {
  const req = requestRecord(method, url, options);
  let raw;
  try {
    raw = send(req);
  } catch (e) {
    // The bindings throw `err` results as an error whose `payload` is the http-error variant.
    if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) throw new HttpError(req, e.payload);
    throw e;
  }
  return new Response(raw);
}

/** `http.get(url, options)`, `http.post(url, body, options)`, ...; see `request`. */
export const http = httpHelper(request);

/**
 * Pause this VU for `seconds`, as k6's `sleep` (`sleep(0.5)`; rounded up to the millisecond; 0 or
 * less returns at once). Other VUs keep running.
 */
export function sleep(seconds) {
  const whole = sleepSecondsMs(seconds);
  if (whole > 0) hostSleep(whole);
}

/** Pause this VU for `ms` milliseconds (rounded up; 0 or less returns at once). */
export function sleepMs(ms) {
  const whole = sleepMsWhole(ms);
  if (whole > 0) hostSleep(whole);
}

// ---------------------------------------------------------------------------------------------------
// Context

/** What the VU knows about its place in the run (ids are plain numbers). */
export const context = {
  ...baseContext,
  /** This VU's id, from 1 (0 in `setup` and `teardown`). */
  vuId: () => Number(hostVuId()),
  /** Iterations this VU started before the current one. */
  iteration: () => Number(hostIteration()),
  scenario: () => hostScenario(),
};

// ---------------------------------------------------------------------------------------------------
// Reproducible randomness and weighted tasks

/** core.js's generator, plus `Rng.forIteration()`: seeded from this VU's id and iteration. */
export class Rng extends CoreRng {
  /** Seeded from this VU's id and iteration; another `stream` gives an independent sequence. */
  static forIteration(stream) {
    return this.seeded(hostVuId(), hostIteration(), stream);
  }
}

/**
 * Weighted task choice: `new Tasks().task(3, 'browse', browse).task(1, 'buy', buy)`, then
 * `tasks.runOne(state)` in each iteration (drawn from `Rng.forIteration`). An `IterationError` from a
 * task comes back prefixed with the task's name.
 */
export class Tasks extends CoreTasks {
  defaultRng() {
    return Rng.forIteration(TASK_STREAM);
  }
}

// ---------------------------------------------------------------------------------------------------
// Exporting a scenario

const DISPOSE = Symbol.dispose || Symbol.for('dispose');

/**
 * Log an unexpected exception, then let it trap the call. A thrown value that is not an `Error`
 * (`throw 'text'`) is wrapped in one: the bindings would take it for the call's `err` and fail only
 * the iteration, unlike every other unexpected exception.
 */
function trap(where, e) {
  if (e instanceof IterationError) throw e;
  logThrown(where, e);
  throw e instanceof Error ? e : new Error(`${where} threw ${describe(e)}`);
}

/** Run `fn`; an `IterationError` becomes `err`, anything else is logged and traps. */
function guarded(where, fn) {
  return attempt(fn, (e) => {
    if (e instanceof IterationError) throw e;
    return trap(where, e);
  });
}

/** `setup`/`teardown` errors of any kind become `err(message)` (they end or annotate the run). */
function asResult(where, fn) {
  return attempt(fn, (e) => {
    if (e instanceof IterationError) throw e;
    logThrown(where, e);
    throw new IterationError(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  });
}

/**
 * Build the `runner` export from a class: `export const runner = exportScenario(MyVu);`.
 *
 * - `new MyVu(setupData)` is the VU constructor (log in, build state); throwing traps it, which the
 *   host counts in `vu_init_errors` and retries a second later.
 * - `myVu.iteration(scenario)` runs one iteration (may be `async`); see `IterationError`.
 * - optional `myVu.close()` (or `[Symbol.dispose]()`) runs when the VU stops normally.
 * - optional `static setup()` returns the setup data once per run: bytes, a string, any other
 *   object (sent as JSON) or nothing;
 *   optional `static teardown(setupData)` runs once at the end.
 */
export function exportScenario(Impl) {
  if (typeof Impl !== 'function') throw new TypeError('exportScenario expects a class');
  if (typeof Impl.prototype.iteration !== 'function') {
    throw new TypeError(`${Impl.name || 'the scenario class'} has no iteration(scenario) method`);
  }

  class Vu {
    constructor(setupData) {
      try {
        this.inner = new Impl(setupData);
      } catch (e) {
        // Any exception traps a constructor, an `IterationError` too (a failed login, say): log
        // each, or the host's message would have only the trap and not why.
        logThrown('the vu constructor', e);
        throw e;
      }
    }

    iteration(scenario) {
      return guarded('iteration', () => this.inner.iteration(scenario));
    }

    [DISPOSE]() {
      const inner = this.inner;
      if (inner === undefined) return;
      this.inner = undefined;
      const close = inner[DISPOSE] ?? inner.close;
      if (typeof close === 'function') guarded('close', () => close.call(inner));
    }
  }

  return {
    Vu,
    setup() {
      if (typeof Impl.setup !== 'function') return EMPTY;
      return asResult('setup', () => andThen(Impl.setup(), setupBytes));
    },
    teardown(setupData) {
      if (typeof Impl.teardown !== 'function') return undefined;
      return asResult('teardown', () => andThen(Impl.teardown(setupData), () => undefined));
    },
  };
}
