// Decoding stays bounded whatever an image folder holds: a PNG whose few MB of pixel data inflate to gigabytes
// (interlaced, which pngjs inflates without a limit, or not), a file far too large to be a 32x32 image. Each is
// refused by name, with memory to spare, in a real process that loads a real image folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImageInto, MAX_IMAGE_FILE_BYTES } from '../../sidecar/data/decodeImage';
import { loadDataset } from '../../sidecar/data/index';
import { UserError } from '../../sidecar/errors';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { pngFile, rejectsWith, tempDir, writeImageFolder } from './helpers';
import { interlacedPng, pngBomb } from './pngFiles';

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
  const rgb = (i: number) => [i & 255, (i * 7) & 255, (i * 13) & 255];
  const plain = pngFile(32, 32, 2, (i) => [...rgb(i), 255]);
  const a = new Uint8Array(IMAGE_BYTES);
  const b = new Uint8Array(IMAGE_BYTES);
  decodeImageInto(interlacedPng(rgb), 'interlaced.png', a, 0);
  decodeImageInto(plain, 'plain.png', b, 0);
  assert.deepEqual(a, b);
});
