// The image decoder against what an image folder can hold: random bytes, and real 32x32 PNGs (RGB, RGBA, grey,
// interlaced) and JPEGs with bytes changed, cut or added, their PNG chunk checksums recomputed so that the damage
// reaches the decoder. Each either decodes to 3,072 bytes or is refused as bad_dataset, quickly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { decodeImageInto } from '../../sidecar/data/decodeImage';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { fuzzOptions, returnsOrRefuses } from '../support/fuzz';
import { pngFile } from './helpers';
import { interlacedPng, pngBomb } from './pngFiles';

const pixel = (i: number) => [(i * 5) & 255, (i * 11) & 255, (i * 17) & 255, 255 - (i & 127)];
const rgba = Buffer.alloc(32 * 32 * 4);
for (let i = 0; i < 1024; i++) rgba.set(pixel(i), i * 4);
const SEEDS = [
  pngFile(32, 32, 2, pixel),
  pngFile(32, 32, 6, pixel),
  pngFile(32, 32, 0, pixel),
  interlacedPng((i) => pixel(i).slice(0, 3)),
  Buffer.from(jpeg.encode({ width: 32, height: 32, data: rgba }, 90).data),
  pngBomb(4, true),
];

// Recomputes every chunk's CRC of a PNG-looking buffer, so that a change inside a chunk is not caught by the CRC alone.
function fixCrcs(b: Buffer): Buffer {
  if (b.length < 8 || b[0] !== 0x89) return b;
  for (let at = 8; at + 12 <= b.length;) {
    const length = b.readUInt32BE(at);
    if (at + 12 + length > b.length) break;
    b.writeUInt32BE(crc32(b.subarray(at + 4, at + 8 + length)), at + 8 + length);
    at += 12 + length;
  }
  return b;
}

function decode(bytes: Uint8Array): void {
  const out = new Uint8Array(IMAGE_BYTES + 8).fill(0xee);
  const r = returnsOrRefuses(() => decodeImageInto(bytes, 'fuzz.img', out, 4), ['bad_dataset']);
  if (r instanceof Error) {
    assert.match(r.message, /^fuzz\.img /, 'the file is named');
  } else {
    assert.deepEqual([...out.subarray(0, 4), ...out.subarray(IMAGE_BYTES + 4)], Array(8).fill(0xee), 'nothing written outside the image');
  }
}

test('random bytes, with or without an image signature, decode or are refused as bad_dataset', () => {
  const signature = fc.constantFrom(Buffer.alloc(0), SEEDS[0].subarray(0, 8), SEEDS[0].subarray(0, 33), Buffer.from([0xff, 0xd8, 0xff]));
  fc.assert(fc.property(signature, fc.uint8Array({ maxLength: 2048 }), (head, tail) => decode(Buffer.concat([head, tail]))), fuzzOptions());
});

test('real PNGs and JPEGs with bytes changed, cut or inserted decode or are refused as bad_dataset', () => {
  const change = fc.record({
    seed: fc.nat({ max: SEEDS.length - 1 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
    insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 32 })), { nil: undefined }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    crcs: fc.boolean(),
  });
  fc.assert(fc.property(change, ({ seed, flips, insert, cut, crcs }) => {
    let b = Buffer.from(SEEDS[seed]);
    for (const [at, x] of flips) b[at % b.length] ^= x;
    if (insert) {
      const at = insert[0] % b.length;
      b = Buffer.concat([b.subarray(0, at), insert[1], b.subarray(at)]);
    }
    if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
    decode(crcs ? fixCrcs(b) : b);
  }), fuzzOptions());
});

test('a PNG header (size, depth, colour type, interlace) set to anything, checksum fixed, decodes or is refused', () => {
  const header = fc.record({ width: fc.oneof(fc.constant(32), fc.nat()), height: fc.oneof(fc.constant(32), fc.nat()), depth: fc.nat({ max: 255 }), colorType: fc.nat({ max: 8 }), interlace: fc.nat({ max: 2 }), seed: fc.nat({ max: 3 }) });
  fc.assert(fc.property(header, ({ width, height, depth, colorType, interlace, seed }) => {
    const b = Buffer.from(SEEDS[seed]);
    b.writeUInt32BE(width >>> 0, 16);
    b.writeUInt32BE(height >>> 0, 20);
    b.set([depth, colorType, 0, 0, interlace], 24);
    decode(fixCrcs(b));
  }), fuzzOptions());
});
