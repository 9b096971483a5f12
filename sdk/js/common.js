// The host helpers both flavours of Stampede's JavaScript SDK share: checks, custom metrics, log lines,
// the clock and the plan's params. Their imports (`checks`, `metrics`, `context`, `time`, `log`) are
// in every world. A scenario imports `stampede.js` or `shared.js`, which re-export these.

import { check as hostCheck } from 'stampede:scenario/checks@0.2.0';
import { counterAdd, rateAdd, trendAdd, gaugeSet } from 'stampede:scenario/metrics@0.2.0';
import {
  workerId as hostWorkerId,
  param as hostParam,
  params as hostParams,
  env as hostEnv,
} from 'stampede:scenario/context@0.2.0';
import { nowMs as hostNowMs } from 'stampede:scenario/time@0.2.0';
import { write } from 'stampede:scenario/log@0.2.0';
import { IterationError, describe, describeValue, pairs } from './core.js';

// ---------------------------------------------------------------------------------------------------
// Checks, metrics, log, time

/**
 * Record one check under `name` (counted in the `checks` rate); returns `ok` as a boolean.
 *
 * k6's form works too: `check(value, { 'status is 200': (r) => r.status === 200 }, tags)` records
 * one check per entry (a function gets `value`; any other entry is taken as its truth) and returns
 * whether all held.
 */
export function check(name, ok, tags) {
  // k6's form whenever the second argument is an object of checks, the value being any type (a
  // body's text too): `check(res.text(), { 'has id': (b) => b.includes('"id"') })`.
  const checks = ok !== null && typeof ok === 'object' && !Array.isArray(ok);
  if (typeof name === 'string' && !(checks && Object.values(ok).some((c) => typeof c === 'function'))) {
    return hostCheck(name, !!ok, pairs(tags));
  }
  if (checks) {
    let all = true;
    for (const [checkName, condition] of Object.entries(ok)) {
      const held = !!(typeof condition === 'function' ? condition(name) : condition);
      all = hostCheck(checkName, held, pairs(tags)) && all;
    }
    return all;
  }
  throw new TypeError(
    `check(name, ok) takes the check's name as a string, got ${describeValue(name)} ` +
      `(or k6's form: check(value, { 'name': (value) => condition }))`,
  );
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

/** Milliseconds since the Unix epoch. */
export function nowMs() {
  return Number(hostNowMs());
}

// ---------------------------------------------------------------------------------------------------
// Context

/** The context helpers every VU has (`stampede.js` adds the VU's id, iteration and scenario). */
export const baseContext = {
  workerId: () => hostWorkerId(),
  /** The plan's `[params]` entry `name`, or `fallback`. */
  param(name, fallback) {
    const value = hostParam(name);
    return value === undefined || value === null ? fallback : value;
  },
  /** The param as an integer, or `fallback` when absent; a value that is not an integer throws. */
  paramInt(name, fallback) {
    const value = hostParam(name);
    if (value === undefined || value === null) return fallback;
    const trimmed = value.trim();
    if (!/^-?\d+$/.test(trimmed)) {
      throw new IterationError(`param ${name} = ${JSON.stringify(value)} is not an integer`);
    }
    return Number(trimmed);
  },
  /** Every `[params]` entry as an object. */
  params: () => Object.fromEntries(hostParams()),
  /** An environment variable the plan's `env` grants, or `undefined`. */
  env: (name) => hostEnv(name) ?? undefined,
};

/** Log `e` at `error` level as thrown in `where` (never throws itself). */
export function logThrown(where, e) {
  try {
    write('error', `scenario threw in ${where}: ${describe(e)}`);
  } catch {
    // Logging must not hide the original exception.
  }
}
