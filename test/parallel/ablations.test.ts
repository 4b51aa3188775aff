// Issue 14 in the worker-thread engine: each ablation and flip-crop trains the same on the WebAssembly kernels and
// the TypeScript reference layers; RMSprop's alpha is a live hyperparameter that reaches the workers at the next
// step; an edit that would break a variant (Nesterov without momentum) is refused and the run goes on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../sidecar/errors';
import type { StartConfig } from '../../sidecar/protocol';
import { losses, session } from './helpers';

const close = (a: number[], b: number[], rel: number) => a.every((x, i) => Math.abs(x - b[i]) <= rel * Math.abs(b[i]));

for (const config of [
  { optimizer: 'rmsprop', alpha: 0.9, momentum: 0.5, learningRate: 3e-4 },
  { optimizer: 'sgd', nesterov: true, learningRate: 0.01 },
  { optimizer: 'amsgrad', biasCorrection: false, augment: 'flip-crop' },
  { optimizer: 'sgd', augment: 'flip-crop', learningRate: 0.01 },
] as StartConfig[]) {
  test(`${JSON.stringify(config)}: the kernels and the reference layers train the same first steps on 2 workers`, async () => {
    const run = async (engine: 'wasm' | 'reference') => {
      const s = await session({ ...config, seed: 8, workers: 2, batchSize: 8 }, { engine, train: 256 });
      try {
        return await losses(s, 6);
      } finally {
        await s.close();
      }
    };
    const [wasm, reference] = await Promise.all([run('wasm'), run('reference')]);
    assert.ok(close(wasm, reference, 1e-4), `wasm ${wasm} vs reference ${reference}`);
  });
}

test('an alpha edit reaches the workers at the next step, on both engines alike', async () => {
  const run = async (engine: 'wasm' | 'reference', edit: boolean) => {
    const s = await session({ optimizer: 'rmsprop', alpha: 0.99, learningRate: 1e-3, seed: 3, workers: 2, batchSize: 8 }, { engine, train: 256 });
    try {
      const before = await losses(s, 3);
      if (edit) assert.deepEqual(s.update({ alpha: 0.5 }), { alpha: { from: 0.99, to: 0.5 } });
      return [...before, ...(await losses(s, 3))];
    } finally {
      await s.close();
    }
  };
  const [edited, unedited, reference] = await Promise.all([run('wasm', true), run('wasm', false), run('reference', true)]);
  assert.deepEqual(edited.slice(0, 4), unedited.slice(0, 4), 'the step after the edit is computed before the edited update');
  assert.ok(Math.abs(edited[4] - unedited[4]) > 1e-6, `step 5 trains after the first update with alpha 0.5: ${edited[4]} vs ${unedited[4]}`);
  assert.ok(close(edited, reference, 1e-4), `wasm ${edited} vs reference ${reference}`);
});

test('an edit to momentum 0 under Nesterov is refused naming the fields, and nothing changes', async () => {
  const s = await session({ optimizer: 'sgd', nesterov: true, momentum: 0.9, seed: 1, workers: 1 }, { train: 128 });
  try {
    await losses(s, 2);
    assert.throws(() => s.update({ momentum: 0, learningRate: 0.01 }), (e: unknown) => e instanceof UserError && e.code === 'bad_config' && /nesterov needs momentum > 0/.test(e.message));
    assert.equal(s.config.momentum, 0.9);
    assert.equal(s.config.learningRate, 0.001);
    await losses(s, 1);
  } finally {
    await s.close();
  }
});
