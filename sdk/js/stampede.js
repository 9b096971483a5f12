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
// panic: it is logged at `error` level first, and the host re-creates the VU.

import { send } from 'stampede:scenario/http@0.2.0';
import { check as hostCheck } from 'stampede:scenario/checks@0.2.0';
import {
  counterAdd,
  rateAdd,
  trendAdd,
  gaugeSet,
} from 'stampede:scenario/metrics@0.2.0';
import {
  vuId as hostVuId,
  iteration as hostIteration,
  workerId as hostWorkerId,
  scenario as hostScenario,
  param as hostParam,
  params as hostParams,
  env as hostEnv,
} from 'stampede:scenario/context@0.2.0';
import { sleep as hostSleep, nowMs as hostNowMs } from 'stampede:scenario/time@0.2.0';
import { write } from 'stampede:scenario/log@0.2.0';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const U32_MAX = 4294967295;

// ---------------------------------------------------------------------------------------------------
// Errors

/**
 * An expected failure: thrown out of `iteration`, it becomes the WIT `err(message)` (the iteration
 * counts as failed and the VU keeps its state). From `setup` it aborts the run with this message.
 */
export class IterationError extends Error {
  constructor(message) {
    super(String(message));
    this.name = 'IterationError';
    // The generated bindings turn a thrown value with an own `payload` into the result's `err`
    // (a string here); anything else thrown traps.
    Object.defineProperty(this, 'payload', { value: this.message, enumerable: false });
  }
}

/** Throw an `IterationError`: `fail('cart is empty')`. */
export function fail(message) {
  throw new IterationError(message);
}

/** `http.send` returned an `http-error`. The host already recorded it as a failed request. */
export class HttpError extends IterationError {
  constructor(request, error) {
    const what = request.name ?? request.url;
    const kind = error?.tag ?? 'unknown';
    const detail = error?.val;
    super(`${request.method} ${what}: ${describeHttpError(kind, detail)}`);
    this.name = 'HttpError';
    /** `origin-not-allowed`, `invalid-request`, `connect`, `timeout` or `protocol`. */
    this.kind = kind;
    /** The host's explanation (absent for `timeout`). */
    this.detail = detail;
  }
}

function describeHttpError(kind, detail) {
  switch (kind) {
    case 'origin-not-allowed':
      return `origin not in the plan's targets (${detail})`;
    case 'invalid-request':
      return `invalid request (${detail})`;
    case 'connect':
      return `connection failed (${detail})`;
    case 'timeout':
      return 'timed out';
    case 'protocol':
      return `protocol error (${detail})`;
    default:
      return `${kind}${detail === undefined ? '' : ` (${detail})`}`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Small conversions

/** `{a: 'b'}`, `[['a', 'b']]` or nothing -> `[['a', 'b']]` with string values. */
function pairs(value) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value.map(([k, v]) => [String(k), String(v)]);
  }
  return Object.entries(value).map(([k, v]) => [k, String(v)]);
}

/** A request or setup body as bytes; `undefined` for none. */
function bytesOf(body) {
  if (body === undefined || body === null) return undefined;
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  throw new TypeError(`cannot send a ${typeof body} as a body: use a string, bytes or an object (JSON)`);
}

function isPlainData(body) {
  return (
    body !== null &&
    typeof body === 'object' &&
    !(body instanceof ArrayBuffer) &&
    !ArrayBuffer.isView(body)
  );
}

function hasHeader(headers, name) {
  const lower = name.toLowerCase();
  return headers.some(([k]) => k.toLowerCase() === lower);
}

// ---------------------------------------------------------------------------------------------------
// HTTP

/** What the server answered (whatever the status). */
export class Response {
  constructor(raw) {
    /** HTTP status code. */
    this.status = raw.status;
    /** The host's header block: one `name: value` line per header (see `headers`). */
    this._headerBlock = raw.headers;
    this._headers = undefined;
    /** The whole body. */
    this.body = raw.body;
    /** `{durationMs, connectingMs, waitingMs, receivingMs}`, measured by the host. */
    this.timings = raw.timings;
    this._text = undefined;
  }

  /** `[name, value]` pairs in the order received; names are lower case. Split on first use. */
  get headers() {
    if (this._headers === undefined) this._headers = splitHeaders(this._headerBlock);
    return this._headers;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The body decoded as UTF-8 (cached). */
  text() {
    if (this._text === undefined) this._text = decoder.decode(this.body);
    return this._text;
  }

  /** The body parsed as JSON; an `IterationError` if it is not JSON. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw new IterationError(`response body (status ${this.status}) is not JSON: ${e.message}`);
    }
  }

  /** The first value of header `name` (any case), or `undefined`. */
  header(name) {
    const lower = name.toLowerCase();
    const found = this.headers.find(([k]) => k === lower);
    return found === undefined ? undefined : found[1];
  }
}

/** The host's `name: value\n` lines as `[name, value]` pairs (names hold no `:`, values may). */
function splitHeaders(block) {
  const out = [];
  for (const line of block.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) {
      out.push([line, '']);
      continue;
    }
    const value = line.slice(colon + 1);
    out.push([line.slice(0, colon), value.startsWith(' ') ? value.slice(1) : value]);
  }
  return out;
}

/**
 * Send one request. `options`: `headers` and `tags` (an object or `[name, value]` pairs), `body`
 * (string, bytes, or any other object/array sent as JSON), `json` (a value sent as JSON), `bearer`
 * (a token for `Authorization: Bearer`), `name` (the metric name), `timeoutMs`.
 * Returns a `Response` for any status; throws an `HttpError` when no response arrived.
 */
function request(method, url, options = {}) {
  const headers = pairs(options.headers);
  let body = options.body;
  if (options.json !== undefined || isPlainData(body)) {
    body = JSON.stringify(options.json !== undefined ? options.json : body);
    if (!hasHeader(headers, 'content-type')) headers.push(['content-type', 'application/json']);
  }
  if (options.bearer !== undefined && options.bearer !== null) {
    headers.push(['authorization', `Bearer ${options.bearer}`]);
  }
  const req = {
    method: String(method).toUpperCase(),
    url: String(url),
    headers,
    body: bytesOf(body),
    name: options.name ?? undefined,
    timeoutMs:
      options.timeoutMs === undefined || options.timeoutMs === null
        ? undefined
        : Math.min(U32_MAX, Math.max(0, Math.ceil(options.timeoutMs))),
    tags: pairs(options.tags),
  };
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

function withBody(method) {
  return (url, body, options = {}) => request(method, url, { ...options, body });
}

/** `http.get(url, options)`, `http.post(url, body, options)`, ...; see `request`. */
export const http = {
  request,
  get: (url, options) => request('GET', url, options),
  head: (url, options) => request('HEAD', url, options),
  del: (url, options) => request('DELETE', url, options),
  post: withBody('POST'),
  put: withBody('PUT'),
  patch: withBody('PATCH'),
};

// ---------------------------------------------------------------------------------------------------
// Checks, metrics, log, time

/** Record one check under `name` (counted in the `checks` rate); returns `ok` as a boolean. */
export function check(name, ok, tags) {
  return hostCheck(String(name), !!ok, pairs(tags));
}

/** A custom counter (a sum): `new Counter('orders').add(1)`. */
export class Counter {
  constructor(name) {
    this.name = name;
  }
  add(value = 1, tags) {
    counterAdd(this.name, Number(value), pairs(tags));
  }
}

/** A custom rate (share of `true` samples). */
export class Rate {
  constructor(name) {
    this.name = name;
  }
  add(value, tags) {
    rateAdd(this.name, !!value, pairs(tags));
  }
}

/** A custom trend (avg, min, med, max, percentiles); times in milliseconds. */
export class Trend {
  constructor(name) {
    this.name = name;
  }
  add(value, tags) {
    trendAdd(this.name, Number(value), pairs(tags));
  }
}

/** A custom gauge (last, min, max). */
export class Gauge {
  constructor(name) {
    this.name = name;
  }
  set(value, tags) {
    gaugeSet(this.name, Number(value), pairs(tags));
  }
}

/** Log lines, printed by the host with the VU id and scenario. */
export const log = {
  debug: (message) => write('debug', String(message)),
  info: (message) => write('info', String(message)),
  warn: (message) => write('warn', String(message)),
  error: (message) => write('error', String(message)),
};

/** Pause this VU for `ms` milliseconds (rounded up; 0 or less returns at once). */
export function sleep(ms) {
  const whole = Math.min(U32_MAX, Math.ceil(Number(ms)));
  if (whole > 0) hostSleep(whole);
}

/** Milliseconds since the Unix epoch. */
export function nowMs() {
  return Number(hostNowMs());
}

// ---------------------------------------------------------------------------------------------------
// Context

/** What the VU knows about its place in the run (ids are plain numbers). */
export const context = {
  /** This VU's id, from 1 (0 in `setup` and `teardown`). */
  vuId: () => Number(hostVuId()),
  /** Iterations this VU started before the current one. */
  iteration: () => Number(hostIteration()),
  workerId: () => hostWorkerId(),
  scenario: () => hostScenario(),
  /** The plan's `[params]` entry `name`, or `fallback`. */
  param(name, fallback) {
    const value = hostParam(name);
    return value === undefined ? fallback : value;
  },
  /** The param as an integer, or `fallback` when absent; a value that is not an integer throws. */
  paramInt(name, fallback) {
    const value = hostParam(name);
    if (value === undefined) return fallback;
    const trimmed = value.trim();
    if (!/^-?\d+$/.test(trimmed)) {
      throw new IterationError(`param ${name} = ${JSON.stringify(value)} is not an integer`);
    }
    return Number(trimmed);
  },
  /** Every `[params]` entry as an object. */
  params: () => Object.fromEntries(hostParams()),
  /** An environment variable the plan's `env` grants, or `undefined`. */
  env: (name) => hostEnv(name),
};

// ---------------------------------------------------------------------------------------------------
// Reproducible randomness and weighted tasks

const DEFAULT_STREAM = 0;
const TASK_STREAM = 0x7a5c;

/** Spread the bits of a 32-bit value (an avalanche step: xor-shift, multiply, xor-shift). */
function scramble(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A small, fast 32-bit generator. `Rng.forIteration()` is seeded from the VU id and iteration, so a
 * run makes the same choices as the previous one. Not for secrets.
 */
export class Rng {
  constructor(seed) {
    this.state = seed >>> 0;
  }

  /** Seeded from this VU's id and iteration; another `stream` gives an independent sequence. */
  static forIteration(stream = DEFAULT_STREAM) {
    const vu = hostVuId();
    const it = hostIteration();
    const lo = (v) => Number(BigInt.asUintN(32, v));
    const hi = (v) => Number(BigInt.asUintN(32, v >> 32n));
    let seed = scramble(stream ^ 0x9e3779b9);
    for (const part of [lo(vu), hi(vu), lo(it), hi(it)]) seed = scramble(seed ^ part);
    return new Rng(seed);
  }

  /** The next 32-bit unsigned integer. */
  nextU32() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    return scramble(this.state);
  }

  /** A float in [0, 1). */
  next() {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [0, n). */
  below(n) {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo, hi) {
    return lo + this.below(hi - lo + 1);
  }

  /** `true` with probability `p`. */
  chance(p) {
    return this.next() < p;
  }

  /** A random element of `items`, or `undefined` when it is empty. */
  pick(items) {
    return items.length === 0 ? undefined : items[this.below(items.length)];
  }
}

/**
 * Weighted task choice: `new Tasks().task(3, 'browse', browse).task(1, 'buy', buy)`, then
 * `tasks.runOne(state)` in each iteration. An `IterationError` from a task comes back prefixed with
 * the task's name.
 */
export class Tasks {
  constructor() {
    this.entries = [];
    this.total = 0;
  }

  task(weight, name, run) {
    if (!(weight >= 0)) throw new TypeError(`task ${name}: weight must be >= 0`);
    this.entries.push({ weight, name, run });
    this.total += weight;
    return this;
  }

  /** The task a seeded draw picks (for tests or custom loops). */
  pick(rng = Rng.forIteration(TASK_STREAM)) {
    if (!(this.total > 0)) throw new IterationError('Tasks.runOne: no task has a positive weight');
    let left = rng.next() * this.total;
    for (const entry of this.entries) {
      if (left < entry.weight) return entry;
      left -= entry.weight;
    }
    return this.entries.findLast((e) => e.weight > 0);
  }

  /** Run one task picked by weight with `state`; returns what the task returns. */
  runOne(state, rng) {
    const entry = this.pick(rng);
    const prefix = (e) => {
      if (e instanceof IterationError) {
        const wrapped = new IterationError(`${entry.name}: ${e.message}`);
        wrapped.cause = e;
        throw wrapped;
      }
      throw e;
    };
    try {
      const out = entry.run(state);
      return out && typeof out.then === 'function' ? out.catch(prefix) : out;
    } catch (e) {
      return prefix(e);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Exporting a scenario

const DISPOSE = Symbol.dispose || Symbol.for('dispose');

function describe(e) {
  if (e instanceof Error) {
    return e.stack ? `${e.name}: ${e.message}\n${e.stack}` : `${e.name}: ${e.message}`;
  }
  return String(e);
}

/** Log an unexpected exception, then let it trap the call. */
function trap(where, e) {
  if (!(e instanceof IterationError)) {
    try {
      write('error', `scenario threw in ${where}: ${describe(e)}`);
    } catch {
      // Logging must not hide the original exception.
    }
  }
  throw e;
}

/** Run `fn`; an `IterationError` becomes `err`, anything else is logged and traps. */
function guarded(where, fn) {
  const fails = (e) => {
    if (e instanceof IterationError) throw e;
    return trap(where, e);
  };
  try {
    const out = fn();
    return out && typeof out.then === 'function' ? out.catch(fails) : out;
  } catch (e) {
    return fails(e);
  }
}

/** `setup`/`teardown` errors of any kind become `err(message)` (they end or annotate the run). */
function asResult(where, fn) {
  const toErr = (e) => {
    if (e instanceof IterationError) throw e;
    try {
      write('error', `scenario threw in ${where}: ${describe(e)}`);
    } catch {
      // ignore
    }
    throw new IterationError(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  };
  try {
    const out = fn();
    return out && typeof out.then === 'function' ? out.catch(toErr) : out;
  } catch (e) {
    return toErr(e);
  }
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
        trap('the vu constructor', e);
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
      return asResult('setup', () => {
        const data = Impl.setup();
        const toBytes = (d) => bytesOf(isPlainData(d) ? JSON.stringify(d) : d) ?? EMPTY;
        return data && typeof data.then === 'function' ? data.then(toBytes) : toBytes(data);
      });
    },
    teardown(setupData) {
      if (typeof Impl.teardown !== 'function') return undefined;
      return asResult('teardown', () => {
        const out = Impl.teardown(setupData);
        return out && typeof out.then === 'function' ? out.then(() => undefined) : undefined;
      });
    },
  };
}
