// The range test's arithmetic (lr steps, smoothing, divergence, suggestion) against pytorch-lr-finder's procedure
// written out with numpy, on random loss curves: falling, flat and exploding, as a range test sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { rangeLearningRate, RangeRecorder } from '../../sidecar/optim/lrRange';
import { PYTHON } from '../support/system';

interface Case { minLr: number; maxLr: number; steps: number; losses: number[] }

// A range test's loss: falls as lr grows, then explodes past some lr; with noise.
const curve: fc.Arbitrary<Case> = fc
  .record({
    minLr: fc.double({ min: 1e-8, max: 1e-4, noNaN: true }),
    ratio: fc.double({ min: 1e2, max: 1e8, noNaN: true }),
    steps: fc.integer({ min: 2, max: 400 }),
    fallAt: fc.double({ min: 0, max: 1, noNaN: true }),
    blowAt: fc.double({ min: 0.3, max: 1.5, noNaN: true }),
    noise: fc.double({ min: 0, max: 0.5, noNaN: true }),
    seed: fc.integer({ min: 1, max: 1e9 }),
  })
  .map((r) => {
    let x = r.seed;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
    const losses = Array.from({ length: r.steps }, (_, i) => {
      const t = i / Math.max(1, r.steps - 1);
      const fall = 2.3 - 1.5 / (1 + Math.exp(-12 * (t - r.fallAt)));
      const blow = t > r.blowAt ? Math.exp(20 * (t - r.blowAt)) : 1;
      return fall * blow * (1 + r.noise * (rand() - 0.5));
    });
    return { minLr: r.minLr, maxLr: r.minLr * r.ratio, steps: r.steps, losses };
  });

test('lr steps, smoothed losses, the divergence stop and the suggestion equal pytorch-lr-finder\'s procedure (random curves)', () => {
  const cases = fc.sample(curve, { numRuns: 200, seed: Number(process.env.PROPERTY_SEED ?? 20261214) });
  const expected = JSON.parse(execFileSync(PYTHON, [join(__dirname, 'lr_range_reference.py')], { input: JSON.stringify(cases), maxBuffer: 64 << 20 }).toString()) as Array<{ lrs: number[]; smoothed: number[]; suggestion: number | null; minLossLr: number }>;
  let stoppedEarly = 0, worst = 0;
  cases.forEach((c, k) => {
    const r = new RangeRecorder();
    for (let i = 0; i < c.steps; i++) if (!r.add(rangeLearningRate(c.minLr, c.maxLr, c.steps, i), c.losses[i])) break;
    const e = expected[k];
    assert.equal(r.points.length, e.smoothed.length, `case ${k}: stopped after ${r.points.length} steps, pytorch-lr-finder after ${e.smoothed.length}`);
    if (r.points.length < c.steps) stoppedEarly++;
    r.points.forEach((p, i) => {
      worst = Math.max(worst, Math.abs(p.learningRate - e.lrs[i]) / e.lrs[i], Math.abs(p.smoothedLoss - e.smoothed[i]) / e.smoothed[i]);
      assert.ok(Math.abs(p.learningRate - e.lrs[i]) <= 1e-13 * e.lrs[i], `case ${k} step ${i}: lr ${p.learningRate} vs ${e.lrs[i]}`);
      assert.ok(Math.abs(p.smoothedLoss - e.smoothed[i]) <= 1e-13 * e.smoothed[i], `case ${k} step ${i}: smoothed ${p.smoothedLoss} vs ${e.smoothed[i]}`);
    });
    const s = r.suggestion();
    assert.equal(s.learningRate === null, e.suggestion === null, `case ${k}`);
    if (e.suggestion !== null) assert.ok(Math.abs(s.learningRate! - e.suggestion) <= 1e-13 * e.suggestion, `case ${k}: suggestion ${s.learningRate} vs ${e.suggestion}`);
    assert.ok(Math.abs(s.minLossLearningRate - e.minLossLr) <= 1e-13 * e.minLossLr, `case ${k}: min-loss lr`);
  });
  assert.ok(stoppedEarly >= 40, `${stoppedEarly} of 200 curves diverged: the stop rule is exercised`);
  console.log(`lr range test vs pytorch-lr-finder's procedure: 200 curves, ${stoppedEarly} stopped on divergence, worst relative difference ${worst.toExponential(2)}`);
});

test('a loss that is not finite stops the test at once', () => {
  const r = new RangeRecorder();
  assert.equal(r.add(1e-5, 2.3), true);
  assert.equal(r.add(1e-4, NaN), false);
  assert.equal(r.diverged, true);
  assert.equal(r.add(1e-3, 2.0), false);
  assert.equal(r.points.length, 2);
  assert.equal(r.suggestion().minLossLearningRate, 1e-5);
});
