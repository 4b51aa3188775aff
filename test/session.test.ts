// A training session resumed from a checkpoint: the checkpoint must be of this dataset, and a cursor left near the
// end of an epoch by a larger batch never draws past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../sidecar/errors';
import { resolveConfig } from '../sidecar/protocol';
import { TrainingSession } from '../sidecar/session';
import { losses, session, syntheticDataset } from './parallel/helpers';

test('a checkpoint of another dataset is refused, even one with as many training images', async () => {
  const s = await session({ seed: 4, workers: 1 }, { train: 256, test: 32 });
  let state;
  try {
    await losses(s, 3);
    state = s.snapshot('r', 0, 0);
  } finally {
    await s.close();
  }
  assert.equal(state.datasetId, '256/32');
  const resume = (test: number) =>
    TrainingSession.create({ config: resolveConfig({ seed: 4, workers: 1 }, 1), cacheDir: '', engine: 'reference', resume: state, dataset: syntheticDataset(256, test) });
  const refused = await resume(33).then(async (other) => { await other.close(); return undefined; }, (e: unknown) => e);
  assert.ok(refused instanceof UserError, 'refused');
  assert.equal(refused.code, 'bad_checkpoint');
  assert.match(refused.message, /the checkpoint was trained on 256\/32 \(training\/test images\), this dataset has 256\/33; resume with the same --data/);
  const same = await resume(32);
  await same.close();
});

test('a batch size raised near the end of an epoch drops the rest of it, as the incomplete last batch is, and training goes on', async () => {
  const s = await session({ seed: 2, workers: 2, batchSize: 4 }, { train: 100 });
  try {
    await losses(s, 23); // 92 of 100 images drawn: 8 left
    assert.equal(s.cursor, 92);
    s.update({ batchSize: 16 });
    assert.equal(s.epoch, 1, 'no batch of 16 fits in the 8 images left');
    assert.equal(s.cursor, 0);
    const chunk = await s.trainChunk(2);
    assert.equal(chunk.steps, 2);
    assert.equal(s.cursor, 32);
  } finally {
    await s.close();
  }
});
