// AdamW's decoupled weight decay against torch.optim.AdamW itself, in float32, on configurations drawn at random.
// PyTorch multiplies by (1 - lr * wd) as a float32 scalar (param.mul_ takes the Python float as the tensor's dtype),
// so the factor is rounded before the product: kept in float64 it put about one weight in six an ulp apart at every
// step (with lr 1e-3 and wd 1e-2: 16,639 of 100,000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { adamStep } from '../../sidecar/optim/adam';
import type { OptimizerHyperparameters } from '../../sidecar/optim/hyperparameters';
import { PYTHON } from '../support/system';

interface Case { params: number[]; grads: number[][]; lr: number[]; weightDecay: number; beta1: number; beta2: number; epsilon: number }

function torchAdamW(cases: Case[]): number[][] {
  return JSON.parse(execFileSync(PYTHON, [join(__dirname, 'adamw_steps.py')], { input: JSON.stringify(cases), maxBuffer: 256 << 20 }).toString());
}

function ours(c: Case): Float32Array {
  const n = c.params.length;
  const params = Float32Array.from(c.params);
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  c.grads.forEach((g, k) => {
    const h: OptimizerHyperparameters = {
      optimizer: 'adamw', learningRate: c.lr[k], weightDecay: c.weightDecay, beta1: c.beta1, beta2: c.beta2, epsilon: c.epsilon,
      momentum: 0, biasCorrection: true, nesterov: false, alpha: 0.99,
    };
    adamStep(params, Float32Array.from(g), m, v, null, k + 1, h);
  });
  return params;
}

const f32 = (min: number, max: number) => fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true });
const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

// Zero gradients leave m and v at zero and the step at zero: what remains is the decay alone, exactly.
const decayOnly: fc.Arbitrary<Case> =
  fc.record({ n: fc.integer({ min: 1, max: 400 }), steps: fc.integer({ min: 1, max: 8 }) }).chain(({ n, steps }) =>
    fc.record({
      params: fc.array(f32(-2, 2).map((x) => x + 0), { minLength: n, maxLength: n }), // JSON has no -0
      grads: fc.array(fc.array(fc.constant(0), { minLength: n, maxLength: n }), { minLength: steps, maxLength: steps }),
      lr: fc.array(logUniform(1e-5, 1e-1), { minLength: steps, maxLength: steps }),
      weightDecay: logUniform(1e-4, 1),
      beta1: fc.double({ min: 0, max: 0.99, noNaN: true }),
      beta2: fc.double({ min: 0.9, max: 0.9999, noNaN: true }),
      epsilon: logUniform(1e-10, 1e-6),
    }));

test('AdamW\'s decoupled decay (zero gradients): every weight equals torch.optim.AdamW\'s to the bit (random configurations)', () => {
  const cases = fc.sample(decayOnly, 60);
  const theirs = torchAdamW(cases);
  let weights = 0;
  cases.forEach((c, i) => {
    const mine = ours(c);
    for (let j = 0; j < mine.length; j++) assert.equal(mine[j], theirs[i][j], `case ${i} weight ${j}: ${JSON.stringify({ p: c.params[j], lr: c.lr, wd: c.weightDecay })}`);
    weights += mine.length;
  });
  assert.ok(weights > 1000);
});
