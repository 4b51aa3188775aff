// A range of a run's per-step losses read from losses.f32 in bounded pieces and summarised to at most `points`
// buckets: compared with a direct computation over the file, on random files and ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readLossRange } from '../../sidecar/store/lossRange';
import { tempDir } from './helpers';

function write(losses: Float32Array): string {
  const dir = join(tempDir(), 'run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'losses.f32'), Buffer.from(losses.buffer, losses.byteOffset, losses.byteLength));
  return dir;
}

/** Steps from+1..to (clipped to the file) in ceil(n / points) steps a bucket, computed directly. */
function direct(losses: Float32Array, from: number, to: number, points: number) {
  const first = Math.max(0, from);
  const end = Math.min(losses.length, to);
  const n = end - first;
  const out = { steps: [] as number[], mean: [] as number[], min: [] as number[], max: [] as number[] };
  if (n <= 0) return out;
  const per = Math.ceil(n / points);
  for (let b = first; b < end; b += per) {
    const xs = Array.from(losses.subarray(b, Math.min(end, b + per)));
    out.steps.push(b + xs.length);
    out.mean.push(xs.reduce((a, x) => a + x, 0) / xs.length);
    out.min.push(Math.min(...xs));
    out.max.push(Math.max(...xs));
  }
  return out;
}

test('a range of losses.f32 equals the direct summary of those steps (random files, ranges, bucket counts)', () => {
  fc.assert(
    fc.property(
      fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 0, maxLength: 3000, size: 'max' }),
      fc.integer({ min: 0, max: 3500 }),
      fc.integer({ min: 1, max: 3500 }),
      fc.integer({ min: 1, max: 600 }),
      (losses, a, b, points) => {
        const [from, to] = a < b ? [a, b] : [b, Math.max(a, b + 1)];
        const got = readLossRange(write(losses), from, to, points);
        const want = direct(losses, from, to, points);
        assert.deepEqual(got.steps, want.steps);
        assert.deepEqual(got.min, want.min);
        assert.deepEqual(got.max, want.max);
        got.mean.forEach((m, i) => assert.ok(Math.abs(m - want.mean[i]) <= 1e-9 * (1 + Math.abs(want.mean[i])), `bucket ${i}: ${m} vs ${want.mean[i]}`));
        assert.ok(got.steps.length <= points);
        // A short range is every step itself (=== : the sum of one -0 is 0, the same loss).
        if (to - from <= points) Array.from(losses.subarray(from, Math.min(losses.length, to))).forEach((x, i) => assert.ok(got.mean[i] === x, `step ${from + i + 1}: ${got.mean[i]} vs ${x}`));
      },
    ),
    { numRuns: 200 },
  );
});

test('a range longer than one read piece (over a million steps) is summarised across the pieces', () => {
  const n = 1_300_000;
  const losses = new Float32Array(n);
  for (let i = 0; i < n; i++) losses[i] = 2 + Math.sin(i / 1000) + (i === 1_048_577 ? 7 : 0); // a spike just past the first piece
  const got = readLossRange(write(losses), 1000, n, 2048);
  const want = direct(losses, 1000, n, 2048);
  assert.deepEqual(got.steps, want.steps);
  assert.deepEqual(got.max, want.max);
  assert.equal(Math.max(...got.max), losses[1_048_577]);
});

test('a run that has not trained yet has an empty range; a file that cannot be read is an error naming it', () => {
  const dir = join(tempDir(), 'run');
  mkdirSync(dir);
  assert.deepEqual(readLossRange(dir, 0, 100, 10), { steps: [], mean: [], min: [], max: [] });
  mkdirSync(join(dir, 'losses.f32'));
  assert.throws(() => readLossRange(dir, 0, 100, 10), (e: Error & { code?: string }) => e.code === 'read_failed' && e.message.includes('losses.f32'));
});
