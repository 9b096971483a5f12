// The part of Stampede's JavaScript SDK that does not touch the host: errors, request records,
// responses, UTF-8, randomness and weighted tasks. `stampede.js` (one instance per VU, componentize-js)
// and `shared.js` (shared isolation, componentize-qjs) build their host-facing helpers on it; a
// scenario imports one of those, not this file.
//
// It runs on StarlingMonkey (componentize-js), QuickJS (componentize-qjs, which has no TextEncoder or
// TextDecoder: see utf8Encode/utf8Decode) and Node (the unit tests).

export const EMPTY = new Uint8Array(0);
export const U32_MAX = 4294967295;

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
// UTF-8

const encoder = typeof TextEncoder === 'function' ? new TextEncoder() : undefined;
const decoder = typeof TextDecoder === 'function' ? new TextDecoder() : undefined;

/** `text` as UTF-8 bytes (a lone surrogate becomes U+FFFD, as TextEncoder does). */
export function utf8Encode(text) {
  return encoder ? encoder.encode(text) : encodeUtf8(text);
}

/** UTF-8 `bytes` as text (an invalid sequence becomes U+FFFD and a leading BOM is dropped, as
 * TextDecoder does). */
export function utf8Decode(bytes) {
  return decoder ? decoder.decode(bytes) : decodeUtf8(bytes);
}

/** utf8Encode without TextEncoder (QuickJS). Exported for the unit tests. */
export function encodeUtf8(text) {
  const s = String(text);
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 0x3f);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.slice(0, n);
}

/**
 * utf8Decode without TextDecoder (QuickJS). Replaces each maximal invalid subpart with one U+FFFD,
 * the WHATWG decoder's rule. Exported for the unit tests.
 */
export function decodeUtf8(input, keepBom = false) {
  // Any buffer or view, read as bytes (as TextDecoder reads it).
  const bytes = ArrayBuffer.isView(input)
    ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : new Uint8Array(input);
  const units = [];
  let out = '';
  // A leading byte order mark is dropped, as TextDecoder drops it (unless `ignoreBOM`).
  const start = !keepBom && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const flush = () => {
    out += String.fromCharCode.apply(null, units);
    units.length = 0;
  };
  for (let i = start; i < bytes.length; ) {
    const b = bytes[i];
    let c = 0xfffd;
    let len = 1;
    if (b < 0x80) {
      c = b;
    } else if (b >= 0xc2 && b <= 0xf4) {
      const need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
      // The second byte's range depends on the first (no overlongs, surrogates or > U+10FFFF).
      const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      let value = b & (0x3f >> need);
      let k = 1;
      for (; k <= need && i + k < bytes.length; k++) {
        const next = bytes[i + k];
        if (next < (k === 1 ? lo : 0x80) || next > (k === 1 ? hi : 0xbf)) break;
        value = (value << 6) | (next & 0x3f);
      }
      if (k > need) c = value;
      len = k;
    }
    if (c > 0xffff) {
      c -= 0x10000;
      units.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else {
      units.push(c);
    }
    if (units.length >= 8192) flush();
    i += len;
  }
  flush();
  return out;
}

/**
 * `TextEncoder` for engines without one (QuickJS): UTF-8 only, as the standard one. shared.js
 * installs it as `globalThis.TextEncoder` when there is none.
 */
export class Utf8TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    return encodeUtf8(input);
  }

  /** Writes what fits of `input` into `dest`; returns `{ read, written }` (UTF-16 units, bytes). */
  encodeInto(input, dest) {
    if (!(dest instanceof Uint8Array)) throw new TypeError('TextEncoder.encodeInto: the destination must be a Uint8Array');
    const s = String(input);
    let read = 0;
    let written = 0;
    while (read < s.length) {
      let c = s.charCodeAt(read);
      let width = 1;
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = read + 1 < s.length ? s.charCodeAt(read + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          width = 2;
        } else {
          c = 0xfffd; // a lone surrogate
        }
      }
      const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (written + size > dest.length) break;
      if (size === 1) {
        dest[written] = c;
      } else {
        // The lead byte, then 6 bits per continuation byte, most significant first.
        dest[written] = (size === 2 ? 0xc0 : size === 3 ? 0xe0 : 0xf0) | (c >> (6 * (size - 1)));
        for (let k = 1; k < size; k++) dest[written + k] = 0x80 | ((c >> (6 * (size - 1 - k))) & 0x3f);
      }
      written += size;
      read += width;
    }
    return { read, written };
  }
}

/** The WHATWG labels of UTF-8. */
const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'];

/**
 * `TextDecoder` for engines without one (QuickJS): the labels of UTF-8 only, and without the
 * `fatal` and `stream` modes, which it refuses rather than ignore. shared.js installs it as
 * `globalThis.TextDecoder` when there is none.
 */
export class Utf8TextDecoder {
  #ignoreBOM;

  constructor(label = 'utf-8', options = undefined) {
    // Only ASCII whitespace is trimmed from a label, as the standard says.
    const name = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
    if (!UTF8_LABELS.includes(name)) {
      throw new RangeError(`TextDecoder: only UTF-8 is available in this engine, not "${label}"`);
    }
    const opts = options ?? {};
    if (opts.fatal) throw new TypeError('TextDecoder: { fatal: true } is not available in this engine');
    this.#ignoreBOM = Boolean(opts.ignoreBOM);
  }

  get encoding() {
    return 'utf-8';
  }

  get fatal() {
    return false;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input = undefined, options = undefined) {
    if ((options ?? {}).stream) throw new TypeError('TextDecoder: { stream: true } is not available in this engine');
    if (input === undefined) return '';
    const isBuffer =
      input instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer) ||
      ArrayBuffer.isView(input);
    if (!isBuffer) throw new TypeError('TextDecoder.decode: the input must be an ArrayBuffer or a view of one');
    return decodeUtf8(input, this.#ignoreBOM);
  }
}

// ---------------------------------------------------------------------------------------------------
// Small conversions

/** `{a: 'b'}`, `[['a', 'b']]` or nothing -> `[['a', 'b']]` with string values. */
export function pairs(value) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value.map(([k, v]) => [String(k), String(v)]);
  }
  return Object.entries(value).map(([k, v]) => [k, String(v)]);
}

/** A request or setup body as bytes; `undefined` for none. */
export function bytesOf(body) {
  if (body === undefined || body === null) return undefined;
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return utf8Encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  throw new TypeError(`cannot send a ${typeof body} as a body: use a string, bytes or an object (JSON)`);
}

export function isPlainData(body) {
  return (
    body !== null &&
    typeof body === 'object' &&
    !(body instanceof ArrayBuffer) &&
    !ArrayBuffer.isView(body)
  );
}

export function hasHeader(headers, name) {
  const lower = name.toLowerCase();
  return headers.some(([k]) => k.toLowerCase() === lower);
}

// ---------------------------------------------------------------------------------------------------
// Requests and responses

/**
 * The WIT `request` record for `http.request(method, url, options)`. `options`: `headers` and `tags`
 * (an object or `[name, value]` pairs), `body` (string, bytes, or any other object/array sent as
 * JSON), `json` (a value sent as JSON), `bearer` (a token for `Authorization: Bearer`), `name` (the
 * metric name), `timeoutMs`.
 */
export function requestRecord(method, url, given) {
  const options = given ?? {};
  checkUrl(method, url);
  checkOptions(options);
  const headers = pairs(options.headers);
  let body = options.body;
  if (options.json !== undefined || isPlainData(body)) {
    body = JSON.stringify(options.json !== undefined ? options.json : body);
    if (!hasHeader(headers, 'content-type')) headers.push(['content-type', 'application/json']);
  }
  if (options.bearer !== undefined && options.bearer !== null) {
    headers.push(['authorization', `Bearer ${options.bearer}`]);
  }
  return {
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
}

/** The options a request takes (a typo or another tool's option is refused, not ignored). */
const REQUEST_OPTIONS = ['headers', 'tags', 'body', 'json', 'bearer', 'name', 'timeoutMs'];

/** What another tool calls an option, and what it is here. */
const OPTION_HINTS = {
  timeout: "timeoutMs (a number of milliseconds)",
  auth: "bearer (a token), or an Authorization header",
  params: "headers, tags, name or timeoutMs at the top level",
};

/** A request's URL must be an absolute http:// or https:// URL (a string, or a `URL` object). */
function checkUrl(method, given) {
  const call = `http.${String(method).toLowerCase()}`;
  const url = given !== null && typeof given === 'object' && typeof given.href === 'string' ? given.href : given;
  if (typeof url !== 'string') {
    throw new TypeError(
      `${call}(url, ...) takes the URL as a string, got ${url === null ? 'null' : typeof url}`,
    );
  }
  if (!/^https?:\/\/[^/?#]/i.test(url)) {
    throw new TypeError(
      `${call}: ${JSON.stringify(url)} is not an absolute http:// or https:// URL ` +
        `(write the whole URL, e.g. from a base_url param)`,
    );
  }
}

/** Refuse options a request does not take, naming the ones it does. */
function checkOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`request options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (REQUEST_OPTIONS.includes(key) || options[key] === undefined) continue;
    const hint = OPTION_HINTS[key] ? `; did you mean ${OPTION_HINTS[key]}?` : '';
    throw new TypeError(
      `unknown request option '${key}' (options: ${REQUEST_OPTIONS.join(', ')})${hint}`,
    );
  }
}

/**
 * The whole milliseconds `sleep(seconds)` waits: seconds as in k6 (`sleep(0.5)` is half a second),
 * rounded up to the millisecond (from whole microseconds, so `1.1` is 1100 ms, not 1101).
 */
export function sleepSecondsMs(seconds) {
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
    throw new TypeError(
      `sleep(seconds) takes a number of seconds, as in k6 (sleep(0.5) is half a second), got ` +
        `${describeValue(seconds)}; sleepMs(ms) takes milliseconds`,
    );
  }
  return sleepMsWhole(Math.round(seconds * 1e6) / 1000);
}

/** The whole milliseconds `sleepMs(ms)` waits (rounded up; at most the host's `u32`). */
export function sleepMsWhole(ms) {
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new TypeError(`sleepMs(ms) takes a number of milliseconds, got ${describeValue(ms)}`);
  }
  return Math.min(U32_MAX, Math.ceil(ms));
}

/** `null`, `an array` or the type of `value`, for messages. */
export function describeValue(value) {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The `http` helper over `request(method, url, options)`: `get(url, options)`, `head`, `del`;
 * `post(url, body, options)`, `put`, `patch`.
 */
export function httpHelper(request) {
  const withBody = (method) => (url, body, options) => {
    if (options !== undefined && options !== null) checkOptions(options);
    return request(method, url, { ...options, body });
  };
  return {
    request,
    get: (url, options) => request('GET', url, options),
    head: (url, options) => request('HEAD', url, options),
    del: (url, options) => request('DELETE', url, options),
    post: withBody('POST'),
    put: withBody('PUT'),
    patch: withBody('PATCH'),
  };
}

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
    if (this._text === undefined) this._text = utf8Decode(this.body);
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
export function splitHeaders(block) {
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

// ---------------------------------------------------------------------------------------------------
// Reproducible randomness and weighted tasks

const DEFAULT_STREAM = 0;
/** The stream `Tasks` draws from by default. */
export const TASK_STREAM = 0x7a5c;

/** Spread the bits of a 32-bit value (an avalanche step: xor-shift, multiply, xor-shift). */
function scramble(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A small, fast 32-bit generator. `Rng.seeded(vuId, iteration)` (and the helpers' `Rng.forIteration`)
 * depends only on the VU id and iteration, so a run makes the same choices as the previous one. Not
 * for secrets.
 */
export class Rng {
  constructor(seed) {
    this.state = seed >>> 0;
  }

  /**
   * Seeded from a VU id and an iteration number (numbers or BigInts); another `stream` gives an
   * independent sequence.
   */
  static seeded(vuId, iteration, stream = DEFAULT_STREAM) {
    const vu = BigInt(vuId);
    const it = BigInt(iteration);
    const lo = (v) => Number(BigInt.asUintN(32, v));
    const hi = (v) => Number(BigInt.asUintN(32, v >> 32n));
    let seed = scramble(stream ^ 0x9e3779b9);
    for (const part of [lo(vu), hi(vu), lo(it), hi(it)]) seed = scramble(seed ^ part);
    return new this(seed);
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
  pick(rng = this.defaultRng()) {
    if (!(this.total > 0)) throw new IterationError('Tasks.runOne: no task has a positive weight');
    let left = rng.next() * this.total;
    for (const entry of this.entries) {
      if (left < entry.weight) return entry;
      left -= entry.weight;
    }
    return this.entries.findLast((e) => e.weight > 0);
  }

  /** The generator `pick` draws from when given none. */
  defaultRng() {
    throw new TypeError('Tasks: pass an Rng to pick/runOne');
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
    return attempt(() => entry.run(state), prefix);
  }
}

// ---------------------------------------------------------------------------------------------------
// Reporting exceptions

/** An exception as one log text: name, message and stack. */
export function describe(e) {
  if (e instanceof Error) {
    return e.stack ? `${e.name}: ${e.message}\n${e.stack}` : `${e.name}: ${e.message}`;
  }
  return String(e);
}

/** What setup returned, as the bytes handed to every VU: bytes, a string, JSON or nothing. */
export function setupBytes(data) {
  return bytesOf(isPlainData(data) ? JSON.stringify(data) : data) ?? EMPTY;
}

/**
 * `fn()`, with `onError` handling what it throws or, when it returns a promise, what that rejects
 * with (sync values stay sync).
 */
export function attempt(fn, onError) {
  try {
    const out = fn();
    return out && typeof out.then === 'function' ? out.catch(onError) : out;
  } catch (e) {
    return onError(e);
  }
}

/** `value`, or what it resolves to, passed through `fn` (sync values stay sync). */
export function andThen(value, fn) {
  return value && typeof value.then === 'function' ? value.then(fn) : fn(value);
}
