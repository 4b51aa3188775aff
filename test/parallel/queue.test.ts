// Chunks posted while one trains (engine.ts, session.ts postChunk, trainer.ts): the threads go from one chunk to the
// next without the main thread, the numbers are those of chunks run one at a time, and what the main thread reads
// while the next chunk trains (the optimizer's statistics, step histograms) comes from the snapshot the chunk kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CTRL } from '../../sidecar/parallel/layout';
import { optimizerStats } from '../../sidecar/optim/stats';
import { OPTIMIZERS } from '../../sidecar/optim/hyperparameters';
import { resolveConfig } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { Run } from '../../sidecar/trainer';
import { session } from './helpers';
import { tempDir } from '../store/helpers';

test('two chunks posted at once: the threads train both without the main thread, and a third is refused', async () => {
  const s = await session({ seed: 3, workers: 2, batchSize: 8 });
  try {
    const a = s.postChunk(20);
    const b = s.postChunk(20);
    assert.equal(s.inFlight, 2);
    assert.equal(s.canQueue(), false, 'both slots are taken');
    await assert.rejects(s.engine.train(s.postedStep, 0, 1), /at most 2 chunks posted at once/);
    // The main thread does not yield here: had the threads needed it to start the second chunk, this would time out.
    const ctrl = new Int32Array(s.arena.memory.buffer, s.engine.layout.control, CTRL.size);
    const deadline = performance.now() + 20_000;
    while (Atomics.load(ctrl, CTRL.completed) !== Atomics.load(ctrl, CTRL.posted)) assert.ok(performance.now() < deadline, 'the second chunk never ran');
    const first = s.accept(await a);
    const second = s.accept(await b);
    assert.equal(first.firstStep, 1);
    assert.equal(second.firstStep, 21);
    assert.equal(s.step, 40);
    assert.ok(second.seconds > 0 && second.seconds < 20);
    assert.throws(() => s.accept(first), /accepted in the order they were posted/);
  } finally {
    await s.close();
  }
});

test('while a chunk trains the run refuses what needs it still: a checkpoint, an edit, an evaluation, statistics without a snapshot', async () => {
  const s = await session({ seed: 5, workers: 2, batchSize: 4 }, { train: 2000 });
  try {
    await s.trainChunk(3);
    const plain = s.postChunk(100);
    assert.throws(() => s.snapshot('r', 0, 0), /a checkpoint needs the run between chunks/);
    assert.throws(() => s.update({ learningRate: 0.01 }), /a hyperparameter edit needs the run between chunks/);
    await assert.rejects(s.evaluate(), /an evaluation needs the run between chunks/);
    s.accept(await plain);
    const kept = s.postChunk(5, { snapshot: true });
    s.accept(await kept);
    const next = s.postChunk(100);
    assert.notEqual(s.readableState, null, 'the last chunk kept a snapshot');
    assert.ok(s.optimizerStats().updateRatio.conv1 > 0);
    s.accept(await next);
    const none = s.postChunk(100);
    const again = s.postChunk(100);
    s.accept(await none); // kept no snapshot, and `again` trains
    assert.equal(s.readableState, null);
    assert.throws(() => s.stepHistograms(), /need a chunk that kept a snapshot/);
    s.accept(await again);
    assert.ok(s.stepHistograms() !== null, 'between chunks the engine itself is read');
  } finally {
    await s.close();
  }
});

test('chunks queued two at a time give the losses, parameters and statistics of chunks run one at a time (random runs)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        seed: fc.integer({ min: 1, max: 1000 }),
        workers: fc.integer({ min: 1, max: 3 }),
        batchSize: fc.integer({ min: 1, max: 40 }),
        optimizer: fc.constantFrom(...OPTIMIZERS),
        chunks: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 7 }),
        snapshots: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
      }),
      async (c) => {
        const config = { seed: c.seed, workers: c.workers, batchSize: c.batchSize, optimizer: c.optimizer };
        // One at a time: losses, and the state and statistics after each chunk.
        const alone = await session(config, { train: 400 });
        const expected: Array<{ losses: number[]; params: Float32Array; stats: string }> = [];
        try {
          for (const n of c.chunks) {
            const r = await alone.trainChunk(n);
            expected.push({ losses: [...r.losses], params: Float32Array.from(alone.engine.params), stats: JSON.stringify(alone.optimizerStats()) });
          }
        } finally {
          await alone.close();
        }
        // Two at a time: each chunk is posted before the one before it is accepted.
        const queued = await session(config, { train: 400 });
        try {
          let pending = queued.postChunk(c.chunks[0], { snapshot: c.snapshots[0] });
          for (let i = 0; i < c.chunks.length; i++) {
            const next = i + 1 < c.chunks.length && queued.canQueue() ? queued.postChunk(c.chunks[i + 1], { snapshot: c.snapshots[i + 1] }) : null;
            const r = queued.accept(await pending);
            assert.deepEqual([...r.losses], expected[i].losses, `chunk ${i}: losses`);
            if (r.snapshot) {
              assert.deepEqual(r.snapshot.params, expected[i].params, `chunk ${i}: the snapshot's parameters`);
              assert.equal(JSON.stringify(queued.optimizerStats()), expected[i].stats, `chunk ${i}: statistics from the snapshot`);
            }
            pending = next ?? (i + 1 < c.chunks.length ? queued.postChunk(c.chunks[i + 1], { snapshot: c.snapshots[i + 1] }) : pending);
          }
          assert.deepEqual(Float32Array.from(queued.engine.params), expected[expected.length - 1].params);
        } finally {
          await queued.close();
        }
      },
    ),
    { numRuns: 6, seed: Number(process.env.PROPERTY_SEED ?? 20261202), endOnFailure: true },
  );
});

test('a run that queues its chunks prints the lines of one that does not, bit for bit, and queues most of them', async () => {
  const lines = async (queueChunks: boolean) => {
    const runsDir = tempDir();
    const store = new RunStore(runsDir);
    const config = resolveConfig({ data: 'sample', workers: 2, seed: 7, maxSteps: 900, logEvery: 50, checkpointEvery: 400, epochs: 3 }, 2);
    store.createRun('q', config);
    const run = new Run({ runId: 'q', config, store, cacheDir: tempDir(), queueChunks, metricsIntervalMs: 30 });
    const out: Array<Record<string, unknown>> = [];
    run.on('log', (m) => out.push(m));
    run.on('eval', (m) => out.push(m));
    const histograms: unknown[] = [];
    run.on('stepHistogram', (m) => histograms.push(m));
    const done = await run.start();
    return { out, done, queued: run.chunksQueued, histograms };
  };
  const one = await lines(false);
  const two = await lines(true);
  assert.equal(one.queued, 0);
  assert.ok(two.queued > 5, `${two.queued} chunks queued`);
  const strip = (l: Record<string, unknown>) => ({ ...l, samplesPerSec: 0, runId: 0, threads: 0, seconds: 0 });
  assert.equal(two.out.length, one.out.length);
  assert.deepEqual(two.out.map(strip), one.out.map(strip));
  assert.equal(two.done.parametersSha256, one.done.parametersSha256);
  assert.ok(two.histograms.length > 0, 'step histograms were computed');
});
