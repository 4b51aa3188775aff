// Small real datasets on disk for the data tests: binary batch files, image folders copied from the
// shipped sample, PNGs written with pngjs. Everything lives in a temp folder removed after the test.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PNG } from 'pngjs';
import { CLASS_NAMES, IMAGE_BYTES } from '../../sidecar/nn/spec';
import { sampleImages } from '../support/sample';

export const RECORD_BYTES = IMAGE_BYTES + 1;
export const TRAIN_FILES = [1, 2, 3, 4, 5].map((n) => `data_batch_${n}.bin`);

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'adam-data-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A recognisable pixel: every record differs from its neighbours and every byte within a record differs.
export function pixel(seed: number, i: number): number {
  return (seed * 31 + i * 7) & 255;
}

// Records labelled `labels[k]`, record k's pixels from pixel(firstSeed + k, i).
export function batchFile(labels: number[], firstSeed: number): Buffer {
  const b = Buffer.alloc(labels.length * RECORD_BYTES);
  labels.forEach((label, k) => {
    b[k * RECORD_BYTES] = label;
    for (let i = 0; i < IMAGE_BYTES; i++) b[k * RECORD_BYTES + 1 + i] = pixel(firstSeed + k, i);
  });
  return b;
}

// Batch files of two records each (test: three), labels running 0..9 round, seeds = the record's index in
// its split.
export function writeBinaryLayout(dir: string): void {
  mkdirSync(dir, { recursive: true });
  TRAIN_FILES.forEach((f, n) => writeFileSync(join(dir, f), batchFile([(2 * n) % 10, (2 * n + 1) % 10], 2 * n)));
  writeFileSync(join(dir, 'test_batch.bin'), batchFile([9, 0, 5], 0));
}

// DIR/train/<class>/ and DIR/test/<class>/ with real JPEGs from the shipped sample.
export function writeImageFolder(dir: string, trainPerClass = 2, testPerClass = 1): void {
  for (const [split, n] of [['train', trainPerClass], ['test', testPerClass]] as const) {
    for (const c of CLASS_NAMES) {
      mkdirSync(join(dir, split, c), { recursive: true });
      for (let i = 0; i < n; i++) {
        const name = `${String(i).padStart(4, '0')}.jpg`;
        copyFileSync(join(sampleImages(), split, c, name), join(dir, split, c, name));
      }
    }
  }
}

// A PNG of the given size; rgba(i) gives the [r, g, b, a] of pixel i. colorType: 0 grey, 2 RGB, 6 RGBA.
export function pngFile(width: number, height: number, colorType: 0 | 2 | 6, rgba: (i: number) => number[]): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set(rgba(i), i * 4);
  return PNG.sync.write(png, { colorType });
}

export async function rejectsWith(promise: Promise<unknown>, code: string, ...parts: Array<string | RegExp>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.name !== 'UserError' || err.code !== code) throw new Error(`expected a UserError ${code}, got ${err.stack}`);
    for (const p of parts) {
      const ok = typeof p === 'string' ? err.message.includes(p) : p.test(err.message);
      if (!ok) throw new Error(`message ${JSON.stringify(err.message)} lacks ${p}`);
    }
    return err;
  }
  throw new Error(`expected a UserError ${code}, but it resolved`);
}
