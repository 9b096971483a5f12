// Typings for the world `stampede:scenario/scenario@0.2.0` (../../wit/stampede.wit) as componentize-js
// 0.23 maps it to JavaScript. The SDK helper (stampede.js, typed in stampede.d.ts) wraps these; a
// scenario may also import them directly.
//
// The mapping, as the bindings componentize-js generates for this world do it:
// - each imported interface is an ES module named `stampede:scenario/<interface>@0.2.0`; functions
//   and record fields are lowerCamelCase (`counter-add` -> `counterAdd`, `timeout-ms` -> `timeoutMs`);
// - `string` -> string, `bool` -> boolean, `u16`/`u32`/`f64` -> number, `u64` -> bigint;
// - `list<u8>` -> Uint8Array (a number[] is accepted as an argument), other lists -> arrays,
//   `tuple<a, b>` -> `[a, b]`;
// - `option<T>` -> `T | undefined` (`null` is also accepted as an argument);
// - `enum` -> its case names as strings; `variant` -> `{ tag: 'case-name', val?: payload }`;
// - an imported function returning `result<T, E>` returns T, or throws an error whose `payload` is E;
// - an exported function returning `result<T, E>`: return T for `ok`; throw a value with an own
//   `payload` property (E, a string here) or a plain string for `err`; any other thrown Error traps
//   the call. Returning `{ tag: 'ok' | 'err', val }` also works;
// - the exported interface `runner` is the module export named `runner`: an object with `setup`,
//   `teardown` and the resource class `Vu` (constructor, methods; `[Symbol.dispose]()` runs when the
//   host drops the resource). Exported functions may be async: the engine runs its event loop until
//   the promise settles.

declare module 'stampede:scenario/types@0.2.0' {
  /** `(key, value)` tags attached to a metric sample. */
  export type Tags = Array<[string, string]>;
  /** Severity of a log line. */
  export type Level = 'debug' | 'info' | 'warn' | 'error';
}

declare module 'stampede:scenario/http@0.2.0' {
  import type { Tags } from 'stampede:scenario/types@0.2.0';

  /** One outgoing request. */
  export interface Request {
    /** Any HTTP method, upper case. */
    method: string;
    /** Absolute URL; its origin must be in the plan's `targets`. */
    url: string;
    /** Sent in this order. */
    headers: Array<[string, string]>;
    /** `undefined` sends no body. */
    body?: Uint8Array | number[];
    /** Metric name; defaults to the URL without its query string. */
    name?: string;
    /** Defaults to the plan's `http-timeout`. */
    timeoutMs?: number;
    /** Extra tags for this request's samples. */
    tags: Tags;
  }

  /** Time spent in each phase of a request, in milliseconds, measured by the host. */
  export interface Timings {
    /** Request start to last body byte. */
    durationMs: number;
    /** Opening a new connection: TCP, plus the TLS handshake for `https://`; 0 when one was reused. */
    connectingMs: number;
    /** Request start to the response head, minus `connectingMs`. */
    waitingMs: number;
    /** Response head to last body byte. */
    receivingMs: number;
  }

  /** A response, whatever its status. */
  export interface Response {
    status: number;
    /** One `name: value` line per header, each ending in `\n`; names are lower case. */
    headers: string;
    body: Uint8Array;
    timings: Timings;
  }

  /** Why no response arrived (the host also recorded a failed request). */
  export type HttpError =
    | { tag: 'origin-not-allowed'; val: string }
    | { tag: 'invalid-request'; val: string }
    | { tag: 'connect'; val: string }
    | { tag: 'timeout' }
    | { tag: 'protocol'; val: string };

  /**
   * Send one request and wait for the whole response.
   * @throws an Error whose `payload` is the `HttpError` when no response arrived.
   */
  export function send(req: Request): Response;
}

declare module 'stampede:scenario/checks@0.2.0' {
  import type { Tags } from 'stampede:scenario/types@0.2.0';
  /** Record one check result under `name` and return `ok`. */
  export function check(name: string, ok: boolean, tags: Tags): boolean;
}

declare module 'stampede:scenario/metrics@0.2.0' {
  import type { Tags } from 'stampede:scenario/types@0.2.0';
  export function counterAdd(name: string, value: number, tags: Tags): void;
  export function rateAdd(name: string, value: boolean, tags: Tags): void;
  export function trendAdd(name: string, value: number, tags: Tags): void;
  export function gaugeSet(name: string, value: number, tags: Tags): void;
}

declare module 'stampede:scenario/context@0.2.0' {
  /** This VU's id, from 1 (0 in setup and teardown). */
  export function vuId(): bigint;
  /** Iterations this VU started before the current one. */
  export function iteration(): bigint;
  export function workerId(): string;
  export function scenario(): string;
  export function param(name: string): string | undefined;
  export function params(): Array<[string, string]>;
  export function env(name: string): string | undefined;
}

declare module 'stampede:scenario/time@0.2.0' {
  /** Pause this VU for `ms` milliseconds (a u32). */
  export function sleep(ms: number): void;
  /** Milliseconds since the Unix epoch. */
  export function nowMs(): bigint;
}

declare module 'stampede:scenario/log@0.2.0' {
  import type { Level } from 'stampede:scenario/types@0.2.0';
  export function write(level: Level, message: string): void;
}

/**
 * The shape of the `runner` export (`export const runner: StampedeRunner = { setup, teardown, Vu }`).
 * A thrown value with an own string `payload` (or a thrown string) becomes `err`.
 */
interface StampedeRunner {
  /** Once per run; the bytes reach every `Vu` constructor and `teardown`. */
  setup(): Uint8Array | number[] | Promise<Uint8Array | number[]>;
  /** One virtual user; the constructor may not be async (throwing traps it). */
  Vu: new (setupData: Uint8Array) => StampedeVu;
  /** Once after every VU stopped. */
  teardown(setupData: Uint8Array): void | Promise<void>;
}

interface StampedeVu {
  /** One iteration of the plan scenario named `scenario`. */
  iteration(scenario: string): void | Promise<void>;
}
