// The parallel engine with real worker threads over shared memory: determinism, agreement with the
// reference layers, live hyperparameters at the next step, batch-size changes, and worker failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { CTRL } from '../../sidecar/parallel/layout';
import { losses, session } from './helpers';

test('same seed and same worker count give bit-identical losses and parameters', async () => {
  const a = await session({ seed: 5, workers: 2 });
  const b = await session({ seed: 5, workers: 2 });
  try {
    assert.deepEqual(await losses(a, 60), await losses(b, 60));
    assert.equal(a.parametersSha256(), b.parametersSha256());
  } finally {
    await a.close();
    await b.close();
  }
});

test('the main thread sleeps through a chunk: woken when its last task is done, not at every step', async () => {
  // Each step has two phases (shards, then the optimizer's slices); woken at each, the main thread took 1.6 turns of
  // its event loop a step, thousands a second at batch 4, on the cores the workers train on (issue 13).
  for (const workers of [1, 2, 3]) {
    const s = await session({ seed: 3, workers, batchSize: 4 });
    try {
      await s.trainChunk(5); // warm: threads started, kernels compiled
      const before = s.engine.wakeups;
      const chunk = await s.trainChunk(120);
      assert.equal(chunk.steps, 120);
      // The main thread sleeps through the chunk and wakes once at its end (or also after a second on its own, the
      // wait's timeout, which lets it notice a dead worker, on a very slow machine).
      assert.ok(s.engine.wakeups - before <= 2, `${workers} workers: ${s.engine.wakeups - before} wakeups in a chunk of 120 steps`);
    } finally {
      await s.close();
    }
  }
});

test('a different seed gives different initial parameters and data order', async () => {
  const a = await session({ seed: 1, workers: 1 });
  const b = await session({ seed: 2, workers: 1 });
  try {
    assert.notEqual(a.parametersSha256(), b.parametersSha256());
  } finally {
    await a.close();
    await b.close();
  }
});

test('the WebAssembly kernels and the TypeScript reference layers train the same run', async () => {
  for (const optimizer of ['adam', 'adamw', 'amsgrad', 'sgd'] as const) {
    const fast = await session({ seed: 3, workers: 2, optimizer, batchSize: 8, weightDecay: 0.01 }, { engine: 'wasm' });
    const slow = await session({ seed: 3, workers: 2, optimizer, batchSize: 8, weightDecay: 0.01 }, { engine: 'reference' });
    try {
      const lf = await losses(fast, 12);
      const ls = await losses(slow, 12);
      for (let i = 0; i < lf.length; i++) assert.ok(Math.abs(lf[i] - ls[i]) <= 1e-4 * Math.abs(ls[i]), `${optimizer} step ${i + 1}: ${lf[i]} vs ${ls[i]}`);
      // Adam turns a near-zero gradient into a step of about lr whose sign float32 rounding can flip (the
      // reference README's caveat); AdamW leaves more such gradients unregularised, so compare by quantile.
      let far = 0;
      for (let i = 0; i < PARAMETER_COUNT; i++) if (Math.abs(fast.engine.params[i] - slow.engine.params[i]) > 1e-4) far++;
      assert.ok(far <= PARAMETER_COUNT * 0.01, `${optimizer}: ${far} parameters differ by more than 1e-4`);
    } finally {
      await fast.close();
      await slow.close();
    }
  }
});

test('one worker and two workers compute the same steps up to float32 summation order', async () => {
  const one = await session({ seed: 4, workers: 1, batchSize: 16 });
  const two = await session({ seed: 4, workers: 2, batchSize: 16 });
  try {
    const l1 = await losses(one, 20);
    const l2 = await losses(two, 20);
    for (let i = 0; i < l1.length; i++) assert.ok(Math.abs(l1[i] - l2[i]) < 1e-3, `step ${i + 1}: ${l1[i]} vs ${l2[i]}`);
  } finally {
    await one.close();
    await two.close();
  }
});

test('a learning-rate edit is used from the next step: the update size scales with it', async () => {
  const s = await session({ seed: 6, workers: 2, learningRate: 1e-3 });
  try {
    await losses(s, 30);
    const stepRms = async () => {
      const before = Float32Array.from(s.engine.params);
      const chunk = await s.trainChunk(1);
      let sum = 0;
      for (let i = 0; i < PARAMETER_COUNT; i++) sum += (s.engine.params[i] - before[i]) ** 2;
      return { rms: Math.sqrt(sum / PARAMETER_COUNT), chunk };
    };
    const base = await stepRms();
    assert.equal(base.chunk.appliedAtStep, null);
    const changes = s.update({ learningRate: 1e-2 });
    assert.deepEqual(changes, { learningRate: { from: 1e-3, to: 1e-2 } });
    const stepBefore = s.step;
    const after = await stepRms();
    assert.equal(after.chunk.appliedAtStep, stepBefore + 1, 'applied at the very next step');
    const ratio = after.rms / base.rms;
    assert.ok(ratio > 5 && ratio < 20, `update grew ${ratio}x for a 10x learning rate`);
  } finally {
    await s.close();
  }
});

test('a batch-size change takes effect at the next chunk and training goes on', async () => {
  const s = await session({ seed: 2, workers: 2, batchSize: 4 });
  try {
    await losses(s, 10);
    const cursor = s.cursor;
    s.update({ batchSize: 32 });
    const chunk = await s.trainChunk(3);
    assert.equal(chunk.batchSize, 32);
    assert.equal(s.cursor, cursor + 96);
    assert.ok([...chunk.losses].every(Number.isFinite));
  } finally {
    await s.close();
  }
});

test('epochs end where the next batch would not fit, with a fresh permutation', async () => {
  const s = await session({ seed: 2, workers: 2, batchSize: 100 }, { train: 250 });
  try {
    const before = Int32Array.from(s.engine.permutation);
    const chunk = await s.trainChunk(10);
    assert.equal(chunk.steps, 2, 'two full batches of 100 in 250 images; the last 50 are dropped');
    assert.equal(chunk.epochEnded, true);
    assert.equal(s.epoch, 1);
    assert.equal(s.cursor, 0);
    assert.notDeepEqual(Int32Array.from(s.engine.permutation), before);
    assert.deepEqual([...s.engine.permutation].sort((a, b) => a - b), Array.from({ length: 250 }, (_, i) => i));
  } finally {
    await s.close();
  }
});

test('evaluation counts every test image into the confusion matrix', async () => {
  const s = await session({ seed: 2, workers: 2 }, { test: 101 });
  try {
    const r = await s.evaluate();
    const total = r.confusion.flat().reduce((a, b) => a + b, 0);
    assert.equal(total, 101);
    const correct = r.confusion.reduce((a, row, i) => a + row[i], 0);
    assert.equal(r.testAccuracy, correct / 101);
    assert.ok(Number.isFinite(r.testLoss) && r.testLoss > 0);
  } finally {
    await s.close();
  }
});

test('a killed worker fails the run within a second, naming the worker, and leaves no thread behind', async () => {
  const s = await session({ seed: 1, workers: 2 });
  await losses(s, 5);
  const t0 = Date.now();
  await s.engine.workerThreads[1].terminate();
  await assert.rejects(losses(s, 50), /worker 1/);
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  await s.close();
  for (const w of s.engine.workerThreads) assert.equal(w.threadId, -1, 'thread exited');
});

test('a worker that throws fails the run with the reason, and the other worker stops waiting', async () => {
  const s = await session({ seed: 1, workers: 2 });
  try {
    await losses(s, 3);
    // Point worker 0's scratch far outside the memory: its next kernel call traps. Any thread takes any task, so on a
    // busy machine worker 1 can take a whole short chunk before worker 0 wakes (a CI run saw 20 steps go by): the run
    // gets up to 5,000 steps, and fails at worker 0's first task.
    const table = new Int32Array(s.arena.memory.buffer, s.engine.layout.scratchTable, 2);
    table[0] = 0x7ff00000;
    const t0 = Date.now();
    await assert.rejects(losses(s, 5000), (e: Error) => /worker 0/.test(e.message) && /out of bounds|memory/i.test(e.message));
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    const ctrl = new Int32Array(s.arena.memory.buffer, s.engine.layout.control, CTRL.size);
    assert.equal(Atomics.load(ctrl, CTRL.failedWorker), 1);
  } finally {
    await s.close(); // also when an assertion failed: live worker threads would keep this file's process from ending
  }
  for (const w of s.engine.workerThreads) assert.equal(w.threadId, -1);
});
