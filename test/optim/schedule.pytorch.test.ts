// Learning-rate schedules against PyTorch's own schedulers (StepLR, CosineAnnealingLR, OneCycleLR, and LinearLR
// warmup composed with SequentialLR), stepped once per optimizer step: random configurations drawn by fast-check,
// every step of each compared. PyTorch computes most of them recursively (lr <- lr * ratio), our closed forms
// are its _get_closed_form_lr: they differ by accumulated float64 rounding only, which the tolerance bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { SCHEDULES, learningRateAt, scheduleProblem, type ScheduleConfig } from '../../sidecar/optim/schedule';
import { PYTHON } from '../support/system';

const SCRIPT = join(__dirname, 'schedule_values.py');

function pytorchValues(configs: ScheduleConfig[]): number[][] {
  return JSON.parse(execFileSync(PYTHON, [SCRIPT], { input: JSON.stringify(configs), maxBuffer: 256 << 20 }).toString());
}

const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

const scheduleConfig = (schedule: ScheduleConfig['schedule']): fc.Arbitrary<ScheduleConfig> =>
  fc
    .record({
      learningRate: logUniform(1e-5, 1),
      minLearningRate: fc.oneof(fc.constant(0), logUniform(1e-7, 1e-5)),
      maxLearningRate: logUniform(1e-4, 1),
      stepSize: fc.integer({ min: 1, max: 400 }),
      gamma: fc.double({ min: 0.05, max: 1, noNaN: true }),
      pctStart: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      warmupSteps: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
      scheduleSteps: fc.integer({ min: 2, max: 3000 }),
    })
    .map((r) => ({ ...r, schedule }))
    .filter((c) => scheduleProblem(c) === undefined);

// Relative error allowed per step: PyTorch's recursive forms (CosineAnnealingLR, LinearLR, StepLR multiply the
// previous lr by a ratio each step) accumulate about one rounding (1.1e-16) a step over at most 3,000 steps.
const REL = 3000 * 2.3e-16;

test('every schedule, with and without warmup, gives the lr PyTorch\'s schedulers give at every step (random configurations)', () => {
  const seed = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : 20261201;
  const configs: ScheduleConfig[] = [];
  for (const schedule of SCHEDULES) {
    configs.push(...fc.sample(scheduleConfig(schedule), { numRuns: 6, seed: seed + configs.length }));
    configs.push(...fc.sample(scheduleConfig(schedule).map((c) => ({ ...c, warmupSteps: Math.max(1, Math.min(c.warmupSteps, c.scheduleSteps - 1)) })).filter((c) => scheduleProblem(c) === undefined), { numRuns: 4, seed: seed + 7 + configs.length }));
  }
  const expected = pytorchValues(configs);
  let worst = 0;
  configs.forEach((c, i) => {
    assert.equal(expected[i].length, c.scheduleSteps);
    for (let k = 0; k < c.scheduleSteps; k++) {
      const ours = learningRateAt(c, k);
      const theirs = expected[i][k];
      const rel = Math.abs(ours - theirs) / Math.max(Math.abs(theirs), 1e-300);
      worst = Math.max(worst, rel);
      assert.ok(rel <= REL, `PROPERTY_SEED=${seed} ${JSON.stringify(c)} step ${k}: ours ${ours}, PyTorch ${theirs} (relative ${rel})`);
    }
  });
  const warmed = configs.filter((c) => c.warmupSteps > 0).length;
  assert.ok(warmed >= 16, `${warmed} configurations with warmup`);
  console.log(`schedules vs PyTorch: ${configs.length} configurations (${warmed} with warmup), worst relative error ${worst.toExponential(2)}`);
});
