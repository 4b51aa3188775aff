// A training worker thread. It waits on the shared control block for a command from the engine. For a training
// chunk it takes tasks until there are none left (layout.ts): the forward/backward of one shard of a step's batch
// into that shard's gradient buffer, or the optimizer on one slice of the parameters (summing every shard's
// gradients in shard order). Which thread runs which task does not change a number; a thread that is not
// scheduled (another program has the core) leaves its share to the others instead of holding them at a barrier.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels, heapBase } from '../kernels/loader';
import { ARENA_BASE } from './arena';
import { referenceBackend, wasmBackend, type Backend, type StepHyper } from './backend';
import { CHUNK, CHUNK_SLOTS, CTRL, COMMAND, HYPER, MAX_CHUNK_STEPS, split, stagingOffset, type EngineLayout } from './layout';
import { augmentImage } from '../data/augment';
import { biasCorrection, OPTIMIZERS } from '../optim/hyperparameters';

export interface WorkerInit {
  index: number;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module | null; // null: the TypeScript reference layers
  layout: EngineLayout;
  spinIterations: number;
}

class Aborted extends Error {}

function run(init: WorkerInit): void {
  const { index, memory, layout: L } = init;
  const W = L.workers;
  const buf = memory.buffer;
  const ctrl = new Int32Array(buf, L.control, CTRL.size);
  const results = new Float64Array(buf, L.results, W * 2);
  const chunks = new Int32Array(buf, L.chunks, CHUNK_SLOTS * CHUNK.size);
  const chunkHyper = new Float64Array(buf, L.chunkHyper, CHUNK_SLOTS * HYPER.size);
  const completedAt = new Float64Array(buf, L.completedAt, CHUNK_SLOTS);
  const perSlotSteps = MAX_CHUNK_STEPS * L.maxShards;
  const shardLoss = new Float64Array(buf, L.shardLoss, CHUNK_SLOTS * perSlotSteps);
  const shardCorrect = new Int32Array(buf, L.shardCorrect, CHUNK_SLOTS * perSlotSteps);
  const stepLearningRate = new Float64Array(buf, L.stepLearningRate, CHUNK_SLOTS * MAX_CHUNK_STEPS);
  const P = L.parameterCount;
  const f32 = (offset: number) => new Float32Array(buf, offset, P);
  const state = [f32(L.params), f32(L.m), f32(L.v), f32(L.vMax)];
  const snapshots = Array.from({ length: CHUNK_SLOTS }, (_, k) => [0, 1, 2, 3].map((j) => f32(L.snapshot + (k * 4 + j) * L.gradStrideBytes)));
  const scratchTable = new Int32Array(buf, L.scratchTable, W);
  const stats = new Int32Array(buf, L.stats, W * 4);
  const statsPtr = L.stats + index * 16;
  let backend: Backend;
  if (init.module) {
    const k = instantiateKernels(init.module, memory);
    if (heapBase(k) > ARENA_BASE) throw new Error(`kernels' static data (${heapBase(k)} bytes) overlaps the arena at ${ARENA_BASE}`);
    backend = wasmBackend(k);
  } else {
    backend = referenceBackend(memory, L.parameterCount, () => Atomics.load(ctrl, CTRL.scratchCapacity));
  }
  const spin = init.spinIterations;
  const scratchOf = () => scratchTable[index];
  const hyper: StepHyper = { learningRate: 0, beta1: 0, beta2: 0, epsilon: 0, weightDecay: 0, momentum: 0, optimizer: 'adam', alpha: 0, biasCorrection: true, nesterov: false, biasCorrection1: 1, biasCorrection2: 1, step: 0 };

  // Spin briefly, then sleep: at batch 4 a task is a hundred-odd microseconds, shorter than a futex round trip;
  // but a thread that waits on one that is not running must give the core up soon.
  const waitWhile = (slot: number, value: number) => {
    for (let i = 0; Atomics.load(ctrl, slot) === value; i++) {
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, slot, value, 50);
    }
  };
  const waitUntilCompleted = (count: number) => {
    for (let i = 0; ; i++) {
      const completed = Atomics.load(ctrl, CTRL.completed);
      if (completed - count >= 0) return;
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, CTRL.completed, completed, 50);
    }
  };

  // Sleeps (no spinning: this thread has nothing to do) until the chunk ending at `end` is done.
  const waitUntilChunkDone = (end: number) => {
    for (;;) {
      const done = Atomics.load(ctrl, CTRL.chunkDone);
      if (Atomics.load(ctrl, CTRL.completed) - end >= 0) return;
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      Atomics.wait(ctrl, CTRL.chunkDone, done, 50);
    }
  };

  // The chunk a task belongs to: its slot's descriptor and hyperparameters, read under the slot's seqlock. The copy
  // stays valid while this thread holds (or is about to claim) one of its tasks: a chunk's slot is written again only
  // after every one of its tasks is done.
  const chunk = { slot: 0, first: 0, end: 0, startStep: 0, cursor: 0, B: 1, S: 1, threads: 0, snapshot: false };
  const readChunk = (task: number): boolean => {
    for (let slot = 0; slot < CHUNK_SLOTS; slot++) {
      const d = slot * CHUNK.size;
      for (;;) {
        const version = Atomics.load(chunks, d + CHUNK.version);
        if ((version & 1) !== 0) break; // being written: a chunk not posted yet, so not this task's
        const first = Atomics.load(chunks, d + CHUNK.first);
        const end = Atomics.load(chunks, d + CHUNK.end);
        if (task - first >= 0 && task - end < 0) {
          chunk.startStep = Atomics.load(chunks, d + CHUNK.startStep);
          chunk.cursor = Atomics.load(chunks, d + CHUNK.cursor);
          chunk.B = Atomics.load(chunks, d + CHUNK.batchSize);
          chunk.S = Atomics.load(chunks, d + CHUNK.shards);
          chunk.threads = Atomics.load(chunks, d + CHUNK.threads);
          chunk.snapshot = Atomics.load(chunks, d + CHUNK.snapshot) !== 0;
          const h = slot * HYPER.size;
          hyper.beta1 = chunkHyper[h + HYPER.beta1];
          hyper.beta2 = chunkHyper[h + HYPER.beta2];
          hyper.epsilon = chunkHyper[h + HYPER.epsilon];
          hyper.weightDecay = chunkHyper[h + HYPER.weightDecay];
          hyper.momentum = chunkHyper[h + HYPER.momentum];
          hyper.optimizer = OPTIMIZERS[chunkHyper[h + HYPER.optimizer]];
          hyper.alpha = chunkHyper[h + HYPER.alpha];
          hyper.biasCorrection = chunkHyper[h + HYPER.biasCorrection] !== 0;
          hyper.nesterov = chunkHyper[h + HYPER.nesterov] !== 0;
          if (Atomics.load(chunks, d + CHUNK.version) !== version) continue;
          chunk.slot = slot;
          chunk.first = first;
          chunk.end = end;
          return true;
        }
        if (Atomics.load(chunks, d + CHUNK.version) === version) break;
      }
    }
    return false;
  };

  // Takes tasks of the posted chunks until there are none left, or the next one is of a chunk this thread sits out.
  const trainTasks = () => {
    chunk.first = chunk.end = 0; // nothing cached: a slot read before the last wait may have been written since
    // With augmentation, a shard's images are staged (flipped and cropped) after the thread's kernel scratch; the
    // views are made here because a batch-size change may have grown the memory since the last chunk.
    const bytes = L.augmentCodes !== 0 ? new Uint8Array(memory.buffer) : null;
    const words = L.augmentCodes !== 0 ? new Int32Array(memory.buffer) : null;
    for (;;) {
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      // Claim the next posted task, never past the last one posted (a late thread must not take unposted ones).
      const task = Atomics.load(ctrl, CTRL.claimed);
      if (task - Atomics.load(ctrl, CTRL.posted) >= 0) return;
      if ((task - chunk.first < 0 || task - chunk.end >= 0) && !readChunk(task)) continue;
      if (index >= chunk.threads) {
        // Sit this chunk out (the governor runs it on fewer threads), and see what is posted after it.
        waitUntilChunkDone(chunk.end);
        continue;
      }
      if (Atomics.compareExchange(ctrl, CTRL.claimed, task, task + 1) !== task) continue;
      const { first, S, B, slot } = chunk;
      const local = task - first;
      const phase = Math.floor(local / S); // 2 per step: shards, then slices
      const k = local - phase * S;
      const s = phase >> 1;
      waitUntilCompleted(first + phase * S);
      if ((phase & 1) === 0) {
        const lo = split(B, S, k);
        const hi = split(B, S, k + 1);
        const position = chunk.cursor + s * B + lo;
        const at = slot * perSlotSteps + s * S + k;
        const grads = L.grads + k * L.gradStrideBytes;
        if (bytes && words) {
          const staged = stageAugmented(bytes, words, position, hi - lo);
          shardLoss[at] = backend.trainShard(L.params, grads, staged.images, staged.labels, staged.indices, hi - lo, 1 / B, scratchOf(), statsPtr);
        } else {
          shardLoss[at] = backend.trainShard(L.params, grads, L.trainImages, L.trainLabels, L.permutation + position * 4, hi - lo, 1 / B, scratchOf(), statsPtr);
        }
        shardCorrect[at] = stats[index * 4];
      } else {
        const t = chunk.startStep + s + 1;
        // Without bias correction (the ablation) both are 1, as optim/hyperparameters.ts biasCorrectionsOf says.
        hyper.biasCorrection1 = hyper.biasCorrection ? biasCorrection(hyper.beta1, t) : 1;
        hyper.biasCorrection2 = hyper.biasCorrection ? biasCorrection(hyper.beta2, t) : 1;
        hyper.step = t;
        hyper.learningRate = stepLearningRate[slot * MAX_CHUNK_STEPS + s]; // the step's own lr (its schedule's)
        const lo = split(P, S, k, 4);
        const hi = split(P, S, k + 1, 4);
        backend.optimizerSlice(hyper, L.params, L.grads, L.gradStrideBytes, S, L.m, L.v, L.vMax, lo, hi);
        // After the chunk's last step, its slice of the state as it is now, for statistics read while the next
        // chunk trains.
        if (chunk.snapshot && first + (phase + 1) * S === chunk.end) for (let j = 0; j < 4; j++) snapshots[slot][j].set(state[j].subarray(lo, hi), lo);
      }
      const completed = Atomics.add(ctrl, CTRL.completed, 1) + 1;
      if (completed - chunk.end === 0) {
        // The chunk is done: the engine's main thread waits for its slot's `finished`, announced on chunkDone.
        completedAt[slot] = performance.timeOrigin + performance.now();
        Atomics.store(chunks, slot * CHUNK.size + CHUNK.finished, chunk.end);
        Atomics.add(ctrl, CTRL.chunkDone, 1);
        Atomics.notify(ctrl, CTRL.chunkDone);
      }
      if ((completed - first) % S === 0) Atomics.notify(ctrl, CTRL.completed); // a phase is complete
    }
  };

  // The augmented copies of the images at permutation positions [position, position + count), their labels and the
  // indices 0..count-1, in this thread's staging area; the kernels then read them as a dataset of `count` images.
  const staged = { images: 0, labels: 0, indices: 0 };
  const stageAugmented = (bytes: Uint8Array, words: Int32Array, position: number, count: number) => {
    const capacity = Atomics.load(ctrl, CTRL.scratchCapacity);
    staged.images = stagingOffset(scratchOf(), backend.scratchBytes(capacity));
    staged.labels = staged.images + capacity * 3072;
    staged.indices = staged.labels + Math.ceil(capacity / 16) * 16;
    for (let j = 0; j < count; j++) {
      const image = words[(L.permutation >> 2) + position + j];
      augmentImage(bytes[L.augmentCodes + position + j], bytes, L.trainImages + image * 3072, bytes, staged.images + j * 3072);
      bytes[staged.labels + j] = bytes[L.trainLabels + image];
      words[(staged.indices >> 2) + j] = j;
    }
    return staged;
  };

  const evaluate = () => {
    const n = Atomics.load(ctrl, CTRL.evalCount);
    const lo = split(n, W, index);
    const hi = split(n, W, index + 1);
    const cap = Math.max(1, Atomics.load(ctrl, CTRL.scratchCapacity));
    const scratch = scratchOf();
    let loss = 0;
    for (let i = lo; i < hi; i += cap) {
      const count = Math.min(cap, hi - i);
      loss += backend.evalShard(L.params, L.testImages, L.testLabels, L.testIndices + i * 4, count, scratch, L.predictions + i * 4);
    }
    results[index * 2] = loss;
  };

  let seen = Atomics.load(ctrl, CTRL.commandWord);
  parentPort!.postMessage({ type: 'ready' });
  for (;;) {
    try {
      waitWhile(CTRL.commandWord, seen);
    } catch (e) {
      if (e instanceof Aborted) return;
      throw e;
    }
    seen = Atomics.load(ctrl, CTRL.commandWord);
    const command = seen & 3;
    if (command === COMMAND.exit) return;
    try {
      // A training chunk is done when its tasks are (CTRL.completed), whoever ran them; an evaluation when every
      // worker has evaluated its slice of the test set.
      // A worker the governor left out of a chunk waits for the next command (any thread takes any task).
      if (command === COMMAND.train) trainTasks();
      else if (command === COMMAND.evaluate) {
        evaluate();
        if (Atomics.add(ctrl, CTRL.done, 1) + 1 === W) Atomics.notify(ctrl, CTRL.done);
      }
    } catch (e) {
      if (e instanceof Aborted) return;
      throw e;
    }
  }
}

if (parentPort && workerData) {
  const init = workerData as WorkerInit;
  try {
    run(init);
  } catch (e) {
    // Tell the others to stop waiting for us before the thread dies; the engine reports which worker and why.
    const ctrl = new Int32Array(init.memory.buffer, init.layout.control, CTRL.size);
    Atomics.store(ctrl, CTRL.failedWorker, init.index + 1);
    Atomics.store(ctrl, CTRL.abort, 1);
    Atomics.notify(ctrl, CTRL.completed);
    Atomics.notify(ctrl, CTRL.chunkDone);
    Atomics.notify(ctrl, CTRL.done);
    throw e;
  }
}
