// How the engine cuts its work into tasks that any thread may take (issue 13). A thread another program holds off its
// core for a moment holds one task: at large batches a step has several shards per worker, and an evaluation is many
// small tasks, so the other threads keep working instead of waiting for a worker's whole share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_SHARDS_PER_WORKER, MIN_SHARD_IMAGES, shardsPerStep, split } from '../../sidecar/parallel/layout';
import { session } from './helpers';

test('a step is cut into 1 to MAX_SHARDS_PER_WORKER shards per worker, of at least MIN_SHARD_IMAGES images when cut finer than one a worker', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 512 }), (workers, batch) => {
      const S = shardsPerStep(batch, workers);
      if (workers === 1) return S === 1;
      assert.ok(S % workers === 0 && S >= workers && S <= workers * MAX_SHARDS_PER_WORKER, `${S} shards for ${workers} workers`);
      const sizes = Array.from({ length: S }, (_, k) => split(batch, S, k + 1) - split(batch, S, k));
      assert.equal(sizes.reduce((a, b) => a + b, 0), batch);
      if (S > workers) assert.ok(Math.min(...sizes) >= MIN_SHARD_IMAGES, `batch ${batch}, ${workers} workers: shards ${sizes}`);
      // As fine as allowed: one more shard per worker would cut a shard below the minimum, or pass the maximum.
      const finer = S + workers;
      assert.ok(S / workers === MAX_SHARDS_PER_WORKER || Math.floor(batch / finer) < MIN_SHARD_IMAGES, `batch ${batch}, ${workers} workers: ${S} shards, ${finer} would do`);
      return true;
    }),
    { numRuns: 300 },
  );
  assert.equal(shardsPerStep(4, 2), 2); // the seed's experiment: one shard per worker, as before
  assert.equal(shardsPerStep(32, 2), 8);
});

test('a chunk at batch 32 with 2 workers runs 8 shard tasks and 2 optimizer tasks a step (2 and 2 when cut one shard per worker); at batch 4, 2 and 2', async () => {
  for (const [batchSize, perStep] of [[32, 10], [4, 4]] as const) {
    const s = await session({ seed: 4, workers: 2, batchSize }, { train: 1024 });
    try {
      const before = s.engine.tasksCompleted;
      const chunk = await s.trainChunk(7);
      assert.equal(chunk.steps, 7);
      assert.equal(s.engine.tasksCompleted - before, 7 * perStep, `batch ${batchSize}`);
      // bench/shards.ts cuts chunks one shard per worker in turn: then a step is 2 shards and 2 slices.
      s.engine.setMaxShardsPerWorker(1);
      const mark = s.engine.tasksCompleted;
      await s.trainChunk(3);
      assert.equal(s.engine.tasksCompleted - mark, 3 * 4, `batch ${batchSize}, one shard per worker`);
      for (const bad of [0, 5, 1.5, Number.NaN]) assert.throws(() => s.engine.setMaxShardsPerWorker(bad), /shards per worker must be an integer in 1\.\.4/);
    } finally {
      await s.close();
    }
  }
});

test('a thread claims a task only once its phase has begun, so a thread that waits holds none (batch 4 and 32, chunks that rescue and chunks that wait)', { timeout: 60_000 }, async () => {
  // Sampled from the main thread while the workers train: `claimed` first, then `completed`. Both only grow, so the
  // last task claimed had its phase begun when it was claimed if `completed`, read after, has reached the phase's first
  // task. A thread that claimed its next task before waiting (the engine until the thirtieth round) broke this at every
  // step: the first thread done with its optimizer slice claimed the next step's shard while the other's slice ran.
  for (const [batchSize, rescue] of [[4, false], [32, false], [32, true]] as const) {
    const s = await session({ seed: 6, workers: 2, batchSize }, { train: 4096, threads: { adaptThreads: false, watchLoad: false, rescue } });
    try {
      const S = shardsPerStep(batchSize, 2);
      const perStep = S + 2;
      let samples = 0;
      let inFlight = 0;
      for (let round = 0; round < 4; round++) {
        const first = s.engine.tasksCompleted;
        let finished = false;
        const chunk = s.trainChunk(Math.floor(4096 / batchSize / 4)).then((c) => { finished = true; return c; });
        while (!finished) {
          const claimed = s.engine.tasksClaimed;
          const completed = s.engine.tasksCompleted;
          samples++;
          if (claimed - completed > 0) inFlight++;
          const last = claimed - 1 - first;
          if (last >= 0) {
            const step = Math.floor(last / perStep);
            const phaseFirst = first + step * perStep + (last - step * perStep < S ? 0 : S);
            assert.ok(completed >= phaseFirst, `batch ${batchSize}, rescue ${rescue}: task ${last} of the chunk claimed with ${completed - first} completed; its phase begins at ${phaseFirst - first}`);
          }
          await new Promise((r) => setImmediate(r));
        }
        await chunk;
      }
      assert.ok(samples >= 50 && inFlight >= 10, `batch ${batchSize}: ${samples} samples, ${inFlight} with a task in flight`);
    } finally {
      await s.close();
    }
  }
});

test('an evaluation gives the same loss and predictions, bit for bit, with 1, 2 or 3 workers', async () => {
  // Its tasks are EVAL_TASK_IMAGES images each and their losses are summed in task order, whichever thread ran them.
  // Split one slice per worker, the sums were grouped by worker and differed in their last bits.
  const results = [];
  for (const workers of [1, 2, 3]) {
    const s = await session({ seed: 9, workers, batchSize: 8 }, { test: 333 });
    try {
      const e = await s.evaluate();
      results.push({ workers, loss: e.testLoss, accuracy: e.testAccuracy, confusion: JSON.stringify(e.confusion) });
    } finally {
      await s.close();
    }
  }
  for (const r of results.slice(1)) {
    assert.equal(r.loss, results[0].loss, `${r.workers} workers against 1`);
    assert.equal(r.accuracy, results[0].accuracy);
    assert.equal(r.confusion, results[0].confusion);
  }
});
