// Typings for shared.js, the SDK for shared isolation (many VUs as concurrent async calls in one
// instance; built with `build.mjs --shared`). What it shares with stampede.js is typed there.
/// <reference path="./wit.d.ts" />

export {
  Body,
  check,
  HttpClient,
  Counter,
  fail,
  Gauge,
  HttpError,
  IterationError,
  log,
  nowMs,
  Pairs,
  Rate,
  RequestOptions,
  Response,
  Task,
  Trend,
  utf8Decode,
  utf8Encode,
} from './stampede.js';

import { Rng as BaseRng } from './stampede.js';
import type { Body, HttpClient, Response, Task } from './stampede.js';

/**
 * The HTTP client: only this VU waits for the response; the instance runs other VUs meanwhile.
 * Every function resolves to a `Response` for any status, or rejects with an `HttpError`.
 */
export const http: HttpClient<Promise<Response>>;

/**
 * The blocking client, for `setup` and `teardown`: in a VU's call it stalls every VU of the
 * instance. Returns a `Response`, or throws an `HttpError`.
 */
export const blockingHttp: HttpClient<Response>;

/** Pause this VU for `seconds`, as k6's `sleep` (rounded up to whole milliseconds); other VUs run meanwhile. */
export function sleep(seconds: number): Promise<void>;
/** Pause this VU for `ms` milliseconds, rounded up; other VUs run meanwhile. */
export function sleepMs(ms: number): Promise<void>;

/**
 * The plan's params, the environment and the worker id. `vuId`, `iteration` and `scenario` throw a
 * `TypeError`: the host cannot tell which VU of a shared instance asks. Use the constructor's `vuId`
 * and `iteration`'s arguments.
 */
export const context: {
  workerId(): string;
  param(name: string): string | undefined;
  param<F>(name: string, fallback: F): string | F;
  /** An integer param, or `fallback` when absent; throws an `IterationError` if not an integer. */
  paramInt<F = undefined>(name: string, fallback?: F): number | F;
  params(): Record<string, string>;
  env(name: string): string | undefined;
  /** @deprecated Throws in shared isolation: use the constructor's `vuId`. */
  vuId(): never;
  /** @deprecated Throws in shared isolation: use `iteration`'s `number`. */
  iteration(): never;
  /** @deprecated Throws in shared isolation: use `iteration`'s `scenario`. */
  scenario(): never;
};

/** The stream `Tasks` draws from in stampede.js: `Rng.seeded(vuId, number, TASK_STREAM)` draws the same tasks. */
export const TASK_STREAM: number;

/** A reproducible 32-bit generator: `Rng.seeded(this.vuId, number)`. */
export class Rng extends BaseRng {
  /** @deprecated Throws in shared isolation: use `Rng.seeded(vuId, number)`. */
  static forIteration(stream?: number): never;
}

/** Weighted task choice; `runOne` and `pick` need the generator (`Rng.seeded(this.vuId, number)`). */
export class Tasks<S = any> {
  task(weight: number, name: string, run: (state: S) => unknown): this;
  pick(rng: BaseRng): Task<S>;
  /**
   * Runs one task and returns its result (its promise when the task is async: await it); an
   * `IterationError` comes back prefixed with the task's name.
   */
  runOne(state: S, rng: BaseRng): unknown;
}

/** One VU of a shared scenario. */
export interface SharedVu {
  /** Once per VU, before its first iteration (log in here). Any exception fails only this VU's start. */
  init?(): unknown;
  /**
   * One iteration of the plan scenario named `scenario`; `number` counts this VU's earlier
   * iterations (0 for the first). Any exception fails only this iteration.
   */
  iteration(scenario: string, number: number): unknown;
}

/** What `exportSharedScenario` accepts: a class whose instances are VUs. It may not have `close()`. */
export interface SharedScenarioClass<V extends SharedVu> {
  /** Quick and synchronous: no requests. An exception fails the VU's start like one from `init`. */
  new (vuId: number, setupData: Uint8Array): V;
  /** Once per run, synchronously (use `blockingHttp`); the result reaches every constructor and `teardown`. */
  setup?(): Body;
  /** Once at the end, synchronously, with the setup bytes. */
  teardown?(setupData: Uint8Array): unknown;
}

/** The shape of the `sharedRunner` export of the world `scenario-shared-futures`. */
export interface StampedeSharedRunner {
  setup(): Uint8Array;
  Vu: new (id: bigint | number, setupData: Uint8Array) => {
    init(): Promise<void>;
    iteration(scenario: string, number: bigint | number): Promise<void>;
  };
  teardown(setupData: Uint8Array): void;
}

/** Build the `sharedRunner` export: `export const sharedRunner = exportSharedScenario(MyVu);`. */
export function exportSharedScenario<V extends SharedVu>(impl: SharedScenarioClass<V>): StampedeSharedRunner;
