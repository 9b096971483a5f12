// Unit tests for core.js: the UTF-8 fallbacks QuickJS uses agree with TextEncoder and TextDecoder.
//   node --import ./test/register.mjs --test test/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Rng, Utf8TextDecoder, Utf8TextEncoder, decodeUtf8, encodeUtf8 } from '../core.js';

test('encodeUtf8 matches TextEncoder, lone surrogates included', () => {
  const texts = ['', 'ok', 'café', '€ and 𝄞', 'a\u0000b', '\ud800', 'x\udc00y', '\ud83d\ude00\ud83d', '日本語'];
  for (const text of texts) {
    assert.deepEqual([...encodeUtf8(text)], [...new TextEncoder().encode(text)], JSON.stringify(text));
  }
});

test('decodeUtf8 matches TextDecoder, invalid sequences included', () => {
  const inputs = [
    [],
    [0x6f, 0x6b],
    [0x63, 0x61, 0x66, 0xc3, 0xa9],
    [0xf0, 0x9d, 0x84, 0x9e],
    [0xe2, 0x82], // truncated
    [0xe2, 0x82, 0x41], // truncated, then ASCII
    [0xc0, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xff, 0xfe, 0x41],
    [0x80, 0xbf],
    [0xf0, 0x9f, 0x98],
    [0xef, 0xbb, 0xbf, 0x7b, 0x7d], // a byte order mark
    [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], // only the first is dropped
  ];
  for (const bytes of inputs) {
    const b = new Uint8Array(bytes);
    assert.equal(decodeUtf8(b), new TextDecoder().decode(b), JSON.stringify(bytes));
  }
  const long = new TextEncoder().encode('é'.repeat(20000));
  assert.equal(decodeUtf8(long), 'é'.repeat(20000));
  // Any buffer or view is read as its bytes, as TextDecoder reads it.
  const bytes = new TextEncoder().encode('héllo');
  const padded = new Uint8Array(bytes.length + 2);
  padded.set(bytes, 1);
  for (const view of [bytes.buffer, new DataView(padded.buffer, 1, bytes.length), padded.subarray(1, -1)]) {
    assert.equal(decodeUtf8(view), 'héllo');
    assert.equal(decodeUtf8(view), new TextDecoder().decode(view));
  }
  assert.equal(decodeUtf8(new Uint16Array([0x6968])), new TextDecoder().decode(new Uint16Array([0x6968])));
});

test('Rng.seeded depends only on the VU id, iteration and stream', () => {
  const draws = (rng) => [rng.nextU32(), rng.nextU32(), rng.nextU32()];
  assert.deepEqual(draws(Rng.seeded(3, 7)), draws(Rng.seeded(3n, 7n)));
  assert.notDeepEqual(draws(Rng.seeded(3, 7)), draws(Rng.seeded(3, 8)));
  assert.notDeepEqual(draws(Rng.seeded(3, 7)), draws(Rng.seeded(3, 7, 1)));
});

test('the TextEncoder and TextDecoder stand-ins behave as the standard ones', () => {
  const mine = new Utf8TextEncoder();
  const node = new TextEncoder();
  assert.equal(mine.encoding, node.encoding);
  for (const text of ['', 'café', '€ and 𝄞', '\ud800x', 'a\ud83d', '\udc00\ud83d\ude00', 'ß日本𝄞𝄞x']) {
    assert.deepEqual([...mine.encode(text)], [...node.encode(text)], JSON.stringify(text));
    for (const size of [0, 1, 2, 3, 4, 5, 6, 7, 8, 16]) {
      const a = new Uint8Array(size);
      const b = new Uint8Array(size);
      assert.deepEqual(mine.encodeInto(text, a), node.encodeInto(text, b), `${JSON.stringify(text)} into ${size}`);
      assert.deepEqual([...a], [...b]);
    }
  }
  assert.deepEqual([...mine.encode()], []);

  const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xe2, 0x82]);
  for (const [label, options] of [['utf-8', {}], ['UTF8', {}], [' utf-8 ', { ignoreBOM: true }]]) {
    const a = new Utf8TextDecoder(label, options);
    const b = new TextDecoder(label, options);
    assert.equal(a.encoding, b.encoding);
    assert.equal(a.ignoreBOM, b.ignoreBOM);
    assert.equal(a.decode(bom), b.decode(bom), `${label} ${JSON.stringify(options)}`);
    assert.equal(a.decode(bom.buffer), b.decode(bom.buffer));
  }
  assert.equal(new Utf8TextDecoder().decode(), '');
  assert.equal(new Utf8TextDecoder('utf-8', null).decode(bom, null), new TextDecoder('utf-8', null).decode(bom, null));
  // Read-only, as the standard's.
  const fixed = new Utf8TextDecoder();
  assert.throws(() => {
    'use strict';
    fixed.ignoreBOM = true;
  }, TypeError);
  assert.equal(fixed.fatal, false);
  // Only ASCII whitespace around a label.
  for (const label of ['\u00a0utf-8', '\ufeffutf8', '\vutf-8']) {
    assert.throws(() => new TextDecoder(label), RangeError);
    assert.throws(() => new Utf8TextDecoder(label), RangeError);
  }
  // Input that is not bytes is refused, as the standard's.
  for (const input of ['abc', 3, [0x61], null]) {
    assert.throws(() => new TextDecoder().decode(input), TypeError);
    assert.throws(() => new Utf8TextDecoder().decode(input), TypeError);
  }
  assert.throws(() => new Utf8TextEncoder().encodeInto('a', new Uint16Array(2)), TypeError);
  // What it cannot do, it refuses rather than get wrong.
  assert.throws(() => new Utf8TextDecoder('latin1'), RangeError);
  assert.throws(() => new Utf8TextDecoder('utf-8', { fatal: true }), TypeError);
  assert.throws(() => new Utf8TextDecoder().decode(bom, { stream: true }), TypeError);
});
