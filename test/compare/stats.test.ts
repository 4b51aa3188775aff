// The statistics of a comparison over seeds: Student's t quantiles, summaries, the paired difference and the
// verdict, against values worked out by hand or taken from a statistics table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareResults, pairedDifference, summarize, tQuantile975, verdict } from '../../sidecar/stats';

test("t(0.975) matches a statistics table for 1, 9, 30 and large degrees of freedom", () => {
  assert.equal(tQuantile975(1).toFixed(3), '12.706');
  assert.equal(tQuantile975(9).toFixed(3), '2.262');
  assert.equal(tQuantile975(30).toFixed(3), '2.042');
  assert.equal(tQuantile975(40).toFixed(3), '2.021');
  assert.equal(tQuantile975(120).toFixed(3), '1.980');
  assert.equal(tQuantile975(Infinity).toFixed(3), '1.960');
  assert.throws(() => tQuantile975(0), RangeError);
});

test('t(0.975) falls as the degrees of freedom grow, across the table and the expansion beyond it', () => {
  for (let df = 1; df < 200; df++) assert.ok(tQuantile975(df + 1) < tQuantile975(df), `df ${df}`);
});

test('a summary has the mean, the sample standard deviation (n - 1) and the t interval', () => {
  const s = summarize([0.5, 0.52, 0.54, 0.56]);
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.mean! - 0.53) < 1e-12);
  const std = Math.sqrt((0.03 ** 2 + 0.01 ** 2 + 0.01 ** 2 + 0.03 ** 2) / 3);
  assert.ok(Math.abs(s.std! - std) < 1e-12);
  const half = (3.1824 * std) / 2;
  assert.ok(Math.abs(s.ci95![0] - (0.53 - half)) < 1e-12 && Math.abs(s.ci95![1] - (0.53 + half)) < 1e-12);
});

test('one value has a mean but no spread and no interval; none has nothing', () => {
  assert.deepEqual(summarize([0.5]), { n: 1, mean: 0.5, std: null, ci95: null });
  assert.deepEqual(summarize([]), { n: 0, mean: null, std: null, ci95: null });
});

test('the difference is paired by seed, over the seeds both optimizers finished', () => {
  const results = [
    { optimizer: 'adam', seed: 1, testAccuracy: 0.55 },
    { optimizer: 'adam', seed: 2, testAccuracy: 0.53 },
    { optimizer: 'adam', seed: 3, testAccuracy: 0.6 },
    { optimizer: 'sgd', seed: 2, testAccuracy: 0.52 },
    { optimizer: 'sgd', seed: 1, testAccuracy: 0.5 },
  ];
  const d = pairedDifference(results, 'adam', 'sgd');
  assert.deepEqual(d.seeds, [1, 2]);
  assert.equal(d.n, 2);
  assert.ok(Math.abs(d.mean! - 0.03) < 1e-12); // (0.05 + 0.01) / 2
  const std = Math.sqrt(2 * 0.02 ** 2);
  assert.ok(Math.abs(d.std! - std) < 1e-12);
  assert.ok(Math.abs(d.ci95![1] - (0.03 + (12.7062 * std) / Math.SQRT2)) < 1e-12);
});

test('the verdict says whether the interval excludes zero, and which way', () => {
  const base = { a: 'adam', b: 'sgd', seeds: [1, 2, 3], n: 3, std: 0.01 };
  assert.match(verdict({ ...base, mean: 0.012, ci95: [0.004, 0.02] }), /^adam - sgd = \+1\.20 points .*95% CI \+0\.40 to \+2\.00, paired over 3 seeds\): the interval excludes zero, so adam beats sgd/);
  assert.match(verdict({ ...base, mean: -0.012, ci95: [-0.02, -0.004] }), /the interval excludes zero, so sgd beats adam/);
  assert.match(verdict({ ...base, mean: 0.005, ci95: [-0.003, 0.013] }), /the interval includes zero, so these seeds do not show that either optimizer is better/);
  assert.match(verdict({ ...base, n: 1, seeds: [1], std: null, mean: 0.01, ci95: null }), /too few paired seeds/);
  assert.match(verdict({ ...base, n: 0, seeds: [], std: null, mean: null, ci95: null }), /nothing to compare/);
});

test('compareResults summarises each optimizer in the order given and pairs the first two', () => {
  const results = [1, 2, 3].flatMap((seed) => [
    { optimizer: 'sgd', seed, testAccuracy: 0.5 + seed / 100 },
    { optimizer: 'adam', seed, testAccuracy: 0.52 + seed / 100 + (seed % 2) / 1000 },
  ]);
  const c = compareResults(results, ['adam', 'sgd']);
  assert.deepEqual(Object.keys(c.optimizers), ['adam', 'sgd']);
  assert.equal(c.difference?.a, 'adam');
  assert.equal(c.difference?.n, 3);
  assert.match(c.verdict, /adam beats sgd/);
  assert.equal(compareResults(results, ['adam']).difference, undefined);
});
