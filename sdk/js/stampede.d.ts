// Typings for the SDK helper module stampede.js. The raw world imports and the `runner` export shape
// are in wit.d.ts.
/// <reference path="./wit.d.ts" />

import type { Timings } from 'stampede:scenario/http@0.2.0';

/** Tags or headers: an object or `[name, value]` pairs. Values are converted with `String()`. */
export type Pairs = Record<string, string | number | boolean> | Array<[string, string | number | boolean]>;

/** A request body: text, bytes, or any other object/array, sent as JSON. */
export type Body = string | Uint8Array | ArrayBuffer | ArrayBufferView | object | null | undefined;

/** Thrown out of `iteration`, fails that iteration (`err(message)`); the VU keeps its state. */
export class IterationError extends Error {
  constructor(message: string);
  /** The `err` string the bindings send to the host (equals `message`). */
  readonly payload: string;
}

/** Throw an `IterationError`. */
export function fail(message: string): never;

/** No response arrived; the host already recorded a failed request. */
export class HttpError extends IterationError {
  readonly kind: 'origin-not-allowed' | 'invalid-request' | 'connect' | 'timeout' | 'protocol';
  /** The host's explanation (absent for `timeout`). */
  readonly detail: string | undefined;
}

export interface RequestOptions {
  headers?: Pairs;
  /** The body (`http.request` only; `post`/`put`/`patch` take it as an argument). */
  body?: Body;
  /** A value sent as JSON (sets `content-type: application/json` unless given). */
  json?: unknown;
  /** Sends `Authorization: Bearer <token>`. */
  bearer?: string;
  /** The metric name, for URLs that contain ids. */
  name?: string;
  /** Give up after this many milliseconds. */
  timeoutMs?: number;
  /** Extra tags for this request's samples. */
  tags?: Pairs;
}

export class Response {
  readonly status: number;
  /** `[name, value]` pairs in the order received; names are lower case. */
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array;
  readonly timings: Timings;
  /** Whether the status is 2xx. */
  readonly ok: boolean;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; throws an `IterationError` if it is not JSON. */
  json<T = any>(): T;
  /** The first value of header `name`, any case. */
  header(name: string): string | undefined;
}

/** The helpers of an HTTP client whose calls give `R` (a `Response`, or shared.js's promise of one). */
export interface HttpClient<R> {
  request(method: string, url: string, options?: RequestOptions): R;
  get(url: string, options?: RequestOptions): R;
  head(url: string, options?: RequestOptions): R;
  del(url: string, options?: RequestOptions): R;
  post(url: string, body?: Body, options?: RequestOptions): R;
  put(url: string, body?: Body, options?: RequestOptions): R;
  patch(url: string, body?: Body, options?: RequestOptions): R;
}

/** The HTTP client. Every function returns a `Response` for any status, or throws an `HttpError`. */
export const http: HttpClient<Response>;

/** `text` as UTF-8 bytes (a lone surrogate becomes U+FFFD). */
export function utf8Encode(text: string): Uint8Array;
/** UTF-8 bytes as text (invalid sequences become U+FFFD, a leading BOM is dropped). */
export function utf8Decode(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): string;

/** Record one check (the `checks` rate); returns `ok` as a boolean. */
export function check(name: string, ok: unknown, tags?: Pairs): boolean;
/** k6's form: one check per entry (a function gets `value`); returns whether all held. */
export function check<T>(
  value: T,
  checks: Record<string, ((value: T) => unknown) | unknown>,
  tags?: Pairs,
): boolean;

export class Counter {
  constructor(name: string);
  readonly name: string;
  add(value?: number, tags?: Pairs): void;
}
export class Rate {
  constructor(name: string);
  readonly name: string;
  add(value: boolean, tags?: Pairs): void;
}
export class Trend {
  constructor(name: string);
  readonly name: string;
  /** Milliseconds when the trend measures time. */
  add(value: number, tags?: Pairs): void;
}
export class Gauge {
  constructor(name: string);
  readonly name: string;
  set(value: number, tags?: Pairs): void;
}

export const log: {
  debug(message: unknown): void;
  info(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown): void;
};

/** Pause this VU for `seconds`, as k6's `sleep` (think time), rounded up to whole milliseconds. */
export function sleep(seconds: number): void;
/** Pause this VU for `ms` milliseconds, rounded up. */
export function sleepMs(ms: number): void;
/** Milliseconds since the Unix epoch. */
export function nowMs(): number;

export const context: {
  /** From 1; 0 in setup and teardown. */
  vuId(): number;
  iteration(): number;
  workerId(): string;
  scenario(): string;
  param(name: string): string | undefined;
  param<F>(name: string, fallback: F): string | F;
  /** An integer param, or `fallback` when absent; throws an `IterationError` if not an integer. */
  paramInt<F = undefined>(name: string, fallback?: F): number | F;
  params(): Record<string, string>;
  env(name: string): string | undefined;
};

/** A reproducible 32-bit generator; not for secrets. */
export class Rng {
  constructor(seed: number);
  /** Seeded from a VU id and an iteration number; another `stream` gives an independent sequence. */
  static seeded<R extends Rng>(this: new (seed: number) => R, vuId: number | bigint, iteration: number | bigint, stream?: number): R;
  /** Seeded from this VU's id and iteration; another `stream` gives an independent sequence. */
  static forIteration(stream?: number): Rng;
  nextU32(): number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  below(n: number): number;
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T | undefined;
}

export interface Task<S> {
  readonly weight: number;
  readonly name: string;
  readonly run: (state: S) => unknown;
}

/** Weighted task choice, seeded from the VU id and iteration. */
export class Tasks<S = any> {
  task(weight: number, name: string, run: (state: S) => unknown): this;
  pick(rng?: Rng): Task<S>;
  /** Runs one task; an `IterationError` comes back prefixed with the task's name. */
  runOne(state: S, rng?: Rng): unknown;
}

/** What `exportScenario` accepts: a class whose instances are VUs. */
export interface ScenarioClass<V extends { iteration(scenario: string): unknown }> {
  new (setupData: Uint8Array): V;
  /** Once per run; the returned bytes (or string) reach every constructor and `teardown`. */
  setup?(): Body | Promise<Body>;
  /** Once at the end, with the setup bytes. */
  teardown?(setupData: Uint8Array): unknown;
  prototype: V & { close?(): void };
}

/** Build the `runner` export: `export const runner = exportScenario(MyVu);`. */
export function exportScenario<V extends { iteration(scenario: string): unknown }>(
  impl: ScenarioClass<V>,
): StampedeRunner;
