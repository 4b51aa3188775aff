// Decoding stays bounded whatever an image folder holds: a PNG whose few MB of pixel data inflate to gigabytes
// (interlaced, which pngjs inflates without a limit, or not), a file far too large to be a 32x32 image. Each is
// refused by name, with memory to spare, in a real process that loads a real image folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { constants, crc32, deflateRawSync, deflateSync } from 'node:zlib';
import { decodeImageInto, MAX_IMAGE_FILE_BYTES } from '../../sidecar/data/decodeImage';
import { loadDataset } from '../../sidecar/data/index';
import { UserError } from '../../sidecar/errors';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { pngFile, rejectsWith, tempDir, writeImageFolder } from './helpers';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid 32x32 RGBA PNG whose one zlib stream inflates to `mib` MiB of zeros: 1 MiB of zeros deflated once and
 * flushed (so each copy stands alone) is about 1 KB, repeated, then the final block and the Adler-32 of the zeros.
 */
export function pngBomb(mib: number, interlaced: boolean): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const total = mib * 2 ** 20;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0);
  const stream = Buffer.concat([Buffer.from([0x78, 0xda]), ...new Array<Buffer>(mib).fill(block), deflateRawSync(Buffer.alloc(0)), adler]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(32, 0);
  ihdr.writeUInt32BE(32, 4);
  ihdr.set([8, 6, 0, 0, interlaced ? 1 : 0], 8); // 8-bit RGBA, deflate, adaptive filters, Adam7 or none
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', stream), chunk('IEND', Buffer.alloc(0))]);
}

// Loads `dir` in a fresh process and reports the error and the process's peak resident memory (VmHWM).
function loadInChild(dir: string): { code?: string; message?: string; peakRssMiB: number; ms: number } {
  const script = `
    const { loadDataset } = require(${JSON.stringify(require.resolve('../../sidecar/data/index'))});
    const { readFileSync } = require('node:fs');
    const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const started = Date.now();
    loadDataset({ data: ${JSON.stringify(dir)}, cacheDir: ${JSON.stringify(join(dir, '.cache'))} })
      .then(() => ({}), (e) => ({ code: e.code, message: e.message }))
      .then((r) => process.stdout.write(JSON.stringify({ ...r, peakRssMiB: peak(), ms: Date.now() - started })));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `the loading process failed: ${r.stderr || r.signal}`);
  return JSON.parse(r.stdout);
}

for (const interlaced of [true, false]) {
  test(`an ${interlaced ? 'interlaced' : 'uninterlaced'} PNG whose pixel data inflates to 2 GiB is refused by name, with memory to spare`, (t) => {
    const dir = tempDir(t);
    writeImageFolder(dir);
    const bomb = pngBomb(2048, interlaced);
    assert.ok(bomb.length < MAX_IMAGE_FILE_BYTES, `the bomb (${bomb.length} bytes) is small enough to be read`);
    const file = join(dir, 'train', 'cat', '0000.png');
    writeFileSync(file, bomb);
    const r = loadInChild(dir);
    t.diagnostic(`${bomb.length.toLocaleString('en-US')}-byte PNG (2 GiB inflated): refused in ${r.ms} ms, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
    assert.equal(r.code, 'bad_dataset');
    assert.equal(r.message, `${file} is not a valid 32x32 PNG image: its pixel data decompresses to more than 16,384 bytes (a decompression bomb?)`);
    assert.ok(r.peakRssMiB < 400, `peak RSS ${r.peakRssMiB} MiB`);
  });
}

test('an image file far larger than a 32x32 image can be is refused before it is read, by name and size', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir);
  const file = join(dir, 'test', 'ship', 'huge.png');
  closeSync(openSync(file, 'w'));
  truncateSync(file, 3 * 2 ** 30); // sparse: 3 GiB that take no space
  const started = Date.now();
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, '.cache') }), 'bad_dataset',
    `${file} is 3,221,225,472 bytes, too large for a 32x32 image (at most 4,194,304): resize or re-encode it`);
  assert.ok(Date.now() - started < 2000);
});

test('decodeImageInto refuses bytes too many for an image, and a PNG whose first chunk is not IHDR', () => {
  const out = new Uint8Array(IMAGE_BYTES);
  const refused = (pattern: RegExp) => (e: unknown) => e instanceof UserError && e.code === 'bad_dataset' && pattern.test(e.message);
  assert.throws(() => decodeImageInto(new Uint8Array(MAX_IMAGE_FILE_BYTES + 1), 'big.png', out, 0), refused(/^big\.png is 4,194,305 bytes, too large/));
  const png = pngFile(32, 32, 2, () => [1, 2, 3, 255]);
  png.write('iHDR', 12, 'latin1');
  assert.throws(() => decodeImageInto(png, 'odd.png', out, 0), refused(/^odd\.png is not a valid PNG image \(its first chunk is not IHDR\)/));
});

test('a real interlaced 32x32 PNG still decodes, to the same pixels as its non-interlaced twin', () => {
  const plain = pngFile(32, 32, 2, (i) => [i & 255, (i * 7) & 255, (i * 13) & 255, 255]);
  // pngjs writes no interlaced PNGs: re-wrap the same pixels as Adam7 passes, each row with filter type 0.
  const rgb = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < 1024; i++) rgb.set([i & 255, (i * 7) & 255, (i * 13) & 255], i * 3);
  const passes: Array<[number, number, number, number]> = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  const rows: Buffer[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < 32; y += dy) {
      const row = [0];
      for (let x = x0; x < 32; x += dx) row.push(...rgb.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
      rows.push(Buffer.from(row));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(32, 0);
  ihdr.writeUInt32BE(32, 4);
  ihdr.set([8, 2, 0, 0, 1], 8);
  const interlaced = Buffer.concat([plain.subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
  const a = new Uint8Array(IMAGE_BYTES);
  const b = new Uint8Array(IMAGE_BYTES);
  decodeImageInto(interlaced, 'interlaced.png', a, 0);
  decodeImageInto(plain, 'plain.png', b, 0);
  assert.deepEqual(a, b);
});
