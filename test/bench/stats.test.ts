// The benchmarks' statistics (bench/stats.mjs), on samples drawn at random: the figures that decide issue 13's bars
// are medians of paired ratios with a bootstrap interval, so these must be right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMedian90, bracketedRatios, median, pairedRatio, quantile } from '../../bench/stats.mjs';
import { rand } from '../../bench/random.mjs';

const SEED = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));

function samples(random: () => number): number[] {
  const n = 1 + Math.floor(random() * 12);
  // Speeds as the benchmarks see them (thousands of samples/s), with repeats, since ties happen.
  return Array.from({ length: n }, () => 5000 + Math.floor(random() * 20) * 1000);
}

test(`median and quantile on samples drawn at random (seed ${SEED})`, () => {
  const random = rand(SEED);
  for (let i = 0; i < 500; i++) {
    const xs = samples(random);
    const m = median(xs);
    const sorted = [...xs].sort((a, b) => a - b);
    const h = sorted.length >> 1;
    assert.equal(m, sorted.length % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2, `the median of ${xs}: the middle one, or the mean of the middle two`);
    assert.ok(xs.filter((x) => x <= m).length >= xs.length / 2, `half of ${xs} at most ${m}`);
    assert.ok(xs.filter((x) => x >= m).length >= xs.length / 2, `half of ${xs} at least ${m}`);
    assert.equal(quantile(xs, 0), Math.min(...xs));
    assert.equal(quantile(xs, 1), Math.max(...xs));
    assert.ok(quantile(xs, 0.25) <= m && m <= quantile(xs, 0.99), `quantiles of ${xs} in order around the median`);
  }
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5, 'an even count gives the mean of the middle two');
  // Ten brackets, five on each side of the bar: the median is below it (the upper of the middle two said 0.957).
  assert.equal(+median([0.932, 0.935, 0.938, 0.961, 0.965, 0.936, 0.938, 0.957, 0.96, 0.962]).toFixed(4), 0.9475);
});

test(`pairedRatio is the median of each pair's ratio, not the ratio of the medians (seed ${SEED})`, () => {
  const random = rand(SEED ^ 0x5bd1e995);
  for (let i = 0; i < 200; i++) {
    const under = samples(random);
    const k = 0.5 + random();
    assert.equal(pairedRatio(under, under.map((u) => u * k)), +k.toFixed(3));
  }
  // Pairs of 0.8, 1.2 and 1.1: their median is 1.1, where the ratio of the columns' medians would say 1.2.
  assert.equal(pairedRatio([10_000, 20_000, 30_000], [8_000, 24_000, 33_000]), 1.1);
});

test(`bootstrapMedian90 brackets the median and is the same for the same runs (seed ${SEED})`, () => {
  const random = rand(SEED ^ 0x27d4eb2f);
  for (let i = 0; i < 50; i++) {
    const xs = samples(random).map((x) => x / 10_000);
    const [lo, hi] = bootstrapMedian90(xs, 1000);
    assert.ok(Math.min(...xs) <= lo && lo <= hi && hi <= Math.max(...xs), `[${lo}, ${hi}] within ${xs}`);
    // A resampled median is one of the values, or the mean of two of them for an even count.
    const means = xs.flatMap((a) => xs.map((b) => (a + b) / 2));
    for (const end of [lo, hi]) assert.ok(xs.length % 2 ? xs.includes(end) : means.some((m) => Math.abs(m - end) < 1e-12), `${end} from ${xs}`);
    assert.deepEqual(bootstrapMedian90(xs, 1000), [lo, hi]);
  }
  assert.deepEqual(bootstrapMedian90([0.87, 0.87, 0.87]), [0.87, 0.87]);
  // Nine pairs all between 0.8 and 0.9 cannot give an interval that reaches 0.95.
  const [, hi] = bootstrapMedian90([0.81, 0.82, 0.84, 0.86, 0.87, 0.87, 0.88, 0.89, 0.9]);
  assert.ok(hi < 0.95 && hi >= 0.87, `upper end ${hi}`);
});

test(`bracketedRatios cancels a drift that is linear over each bracket, where one neighbour alone does not (seed ${SEED})`, () => {
  const random = rand(SEED ^ 0x165667b1);
  for (let i = 0; i < 200; i++) {
    // A machine whose speed drifts along a line (up or down by up to 40% over the run), timed in 2n + 1 windows of
    // the same length in turn: around, between, around, ... The run around is `k` times as fast as between.
    const n = 1 + Math.floor(random() * 8);
    const start = 10_000 + random() * 20_000;
    const slope = (random() - 0.5) * 0.8 * start / (2 * n);
    const speed = (w: number) => start + slope * w;
    const k = 0.7 + random() * 0.6;
    const around = Array.from({ length: n + 1 }, (_, j) => k * speed(2 * j));
    const between = Array.from({ length: n }, (_, j) => speed(2 * j + 1));
    const ratios = bracketedRatios(around, between);
    assert.equal(ratios.length, n);
    for (const r of ratios) assert.ok(Math.abs(r - k) < 1e-9 * k, `bracketed ratio ${r} against ${k} (slope ${slope})`);
    // One neighbour alone reads the drift into the ratio (off by slope / speed), unless there is almost none.
    const naive = between.map((b, j) => around[j] / b);
    if (Math.abs(slope) / start > 0.005) assert.ok(naive.every((r) => Math.abs(r - k) > 1e-3 * k), 'one neighbour alone is off by the drift');
  }
  assert.deepEqual(bracketedRatios([10, 12, 14], [10, 13]), [1.1, 1]);
  assert.throws(() => bracketedRatios([1, 2], [1, 2]), /one more window around/);
});
