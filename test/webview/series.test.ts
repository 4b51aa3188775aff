import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { appendIncreasing, smooth, SmoothedSeries } from '../../webview/series';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('smoothing with weight 0 returns the series unchanged', () => {
  const pts = [{ x: 1, y: 3 }, { x: 2, y: 1 }, { x: 3, y: 4 }];
  assert.deepEqual(smooth(pts, 0), pts);
});

test('the first smoothed point equals the first value (debiased, not pulled towards zero)', () => {
  close(smooth([{ x: 0, y: 2.3 }], 0.99)[0].y, 2.3);
});

test('smoothing is the debiased exponential moving average, as TensorBoard computes it', () => {
  const ys = [2, 1, 4, 3];
  const w = 0.6;
  let ema = 0;
  const expected = ys.map((y, i) => {
    ema = w * ema + (1 - w) * y;
    return ema / (1 - Math.pow(w, i + 1));
  });
  const got = smooth(ys.map((y, x) => ({ x, y })), w).map((p) => p.y);
  got.forEach((g, i) => close(g, expected[i]));
});

test('a constant series stays constant under any smoothing weight', () => {
  for (const w of [0.3, 0.9, 0.999]) for (const p of smooth(Array.from({ length: 50 }, (_, x) => ({ x, y: 1.7 })), w)) close(p.y, 1.7, 1e-9);
});

test('a non-finite value passes through and does not poison the points after it', () => {
  const s = smooth([{ x: 0, y: 1 }, { x: 1, y: NaN }, { x: 2, y: 1 }], 0.5);
  assert.ok(Number.isNaN(s[1].y));
  close(s[2].y, 1);
});

test('appending points one by one gives the same smoothing as smoothing the full series', () => {
  const ys = Array.from({ length: 200 }, (_, i) => Math.sin(i / 7) + 2);
  const s = new SmoothedSeries(0.8);
  ys.forEach((y, x) => s.push(x, y));
  const full = smooth(ys.map((y, x) => ({ x, y })), 0.8);
  s.smoothed.forEach((p, i) => close(p.y, full[i].y));
});

test('changing the weight re-smooths the whole series in place (the charts keep their arrays)', () => {
  const s = new SmoothedSeries(0);
  [5, 1, 5, 1].forEach((y, x) => s.push(x, y));
  const arrayHeldByChart = s.smoothed;
  s.setWeight(0.9);
  assert.equal(s.smoothed, arrayHeldByChart);
  const expected = smooth(s.raw, 0.9);
  arrayHeldByChart.forEach((p, i) => close(p.y, expected[i].y));
  s.push(4, 5);
  close(s.smoothed[4].y, smooth(s.raw, 0.9)[4].y);
});

test('appendIncreasing drops points at or before the last x (repeats from a re-subscribe)', () => {
  const s: { x: number; y: number }[] = [];
  assert.equal(appendIncreasing(s, 100, 1), true);
  assert.equal(appendIncreasing(s, 100, 2), false);
  assert.equal(appendIncreasing(s, 50, 2), false);
  assert.equal(appendIncreasing(s, 200, 3), true);
  assert.deepEqual(s.map((p) => p.x), [100, 200]);
});

// The summary against a direct computation: with n points and capacity C, each bucket holds p points, p the
// smallest power of two with ceil(n / p) <= C; a bucket's line is the mean of its points, its band their min and
// max, its x the last point's x.
function expectedBuckets(ys: number[], lows: number[], highs: number[], capacity: number) {
  let p = 1;
  while (Math.ceil(ys.length / p) > capacity) p *= 2;
  const out: { x: number; mean: number; min: number; max: number }[] = [];
  for (let k = 0; k * p < ys.length; k++) {
    const idx = Array.from({ length: Math.min(p, ys.length - k * p) }, (_, i) => k * p + i);
    out.push({
      x: idx[idx.length - 1] * 3,
      mean: idx.reduce((a, i) => a + ys[i], 0) / idx.length,
      min: Math.min(...idx.map((i) => lows[i])),
      max: Math.max(...idx.map((i) => highs[i])),
    });
  }
  return { p, out };
}

test('a bucketed series equals the direct summary for any length and capacity (random)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }).map((h) => 2 * h),
      fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { maxLength: 3000, size: 'max' }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      (capacity, ys, weight) => {
        const s = new SmoothedSeries(weight, capacity);
        const lows = ys.map((y, i) => y - (i % 5));
        const highs = ys.map((y, i) => y + (i % 3));
        ys.forEach((y, i) => s.push(i * 3, y, lows[i], highs[i]));
        const { p, out } = expectedBuckets(ys, lows, highs, capacity);
        assert.equal(s.raw.length, out.length);
        if (ys.length) assert.equal(s.resolution, p);
        out.forEach((b, k) => {
          assert.equal(s.raw[k].x, b.x);
          assert.equal(s.min[k].x, b.x);
          close(s.raw[k].y, b.mean, 1e-9 * (1 + Math.abs(b.mean)));
          assert.equal(s.min[k].y, b.min);
          assert.equal(s.max[k].y, b.max);
        });
        // The smoothing is TensorBoard's over the buckets' means, whether the buckets merged or not.
        const expected = smooth(s.raw, weight);
        s.smoothed.forEach((q, k) => { assert.equal(q.x, expected[k].x); close(q.y, expected[k].y, 1e-9 * (1 + Math.abs(expected[k].y))); });
      },
    ),
    { numRuns: 300 },
  );
});

test('a series refuses a capacity it cannot halve', () => {
  assert.throws(() => new SmoothedSeries(0.5, 3), /even number >= 2, got 3/);
});
