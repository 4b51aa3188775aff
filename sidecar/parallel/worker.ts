// A training worker thread. It waits on the shared control block for a command from the engine. For a training
// chunk it takes tasks until there are none left (layout.ts): the forward/backward of one shard of a step's batch
// into that shard's gradient buffer, or the optimizer on one slice of the parameters (summing every shard's
// gradients in shard order). An evaluation is tasks too, of EVAL_TASK_IMAGES test images each. Which thread runs
// which task does not change a number; a thread that is not scheduled (another program has the core) leaves its
// share to the others instead of holding them at a barrier.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels, heapBase } from '../kernels/loader';
import { ARENA_BASE } from './arena';
import { referenceBackend, wasmBackend, type Backend, type StepHyper } from './backend';
import { CTRL, COMMAND, EVAL_TASK_IMAGES, HYPER, MAX_CHUNK_STEPS, evalTasks, split, stagingOffset, type EngineLayout } from './layout';
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
  const active = new Float64Array(buf, L.activeHyper, HYPER.size);
  const results = new Float64Array(buf, L.results, L.evalSlots);
  const shardLoss = new Float64Array(buf, L.shardLoss, MAX_CHUNK_STEPS * L.maxShards);
  const shardCorrect = new Int32Array(buf, L.shardCorrect, MAX_CHUNK_STEPS * L.maxShards);
  const stepLearningRate = new Float64Array(buf, L.stepLearningRate, MAX_CHUNK_STEPS);
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
      if (((completed - count) | 0) >= 0) return;
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, CTRL.completed, completed, 50);
    }
  };

  const trainChunk = () => {
    // The chunk's parameters and hyperparameters as one consistent snapshot (the engine writes them under a
    // seqlock): a thread that comes late may read the next chunk's, and then takes part in that one.
    let startStep = 0, cursor0 = 0, B = 1, S = 1, first = 0, end = 0;
    for (let i = 0; ; i++) {
      const version = Atomics.load(ctrl, CTRL.chunkVersion);
      if ((version & 1) === 0) {
        startStep = Atomics.load(ctrl, CTRL.chunkStartStep);
        cursor0 = Atomics.load(ctrl, CTRL.chunkCursor);
        B = Atomics.load(ctrl, CTRL.batchSize);
        S = Atomics.load(ctrl, CTRL.chunkShards);
        first = Atomics.load(ctrl, CTRL.chunkFirstTask);
        end = Atomics.load(ctrl, CTRL.chunkEndTask);
        hyper.learningRate = active[HYPER.learningRate];
        hyper.beta1 = active[HYPER.beta1];
        hyper.beta2 = active[HYPER.beta2];
        hyper.epsilon = active[HYPER.epsilon];
        hyper.weightDecay = active[HYPER.weightDecay];
        hyper.momentum = active[HYPER.momentum];
        hyper.optimizer = OPTIMIZERS[active[HYPER.optimizer]];
        hyper.alpha = active[HYPER.alpha];
        hyper.biasCorrection = active[HYPER.biasCorrection] !== 0;
        hyper.nesterov = active[HYPER.nesterov] !== 0;
        if (Atomics.load(ctrl, CTRL.chunkVersion) === version) break;
      }
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
    }
    const invBatch = 1 / B;
    // With augmentation, a shard's images are staged (flipped and cropped) after the thread's kernel scratch; the
    // views are made once a chunk because a batch-size change may have grown the memory since the last one.
    const bytes = L.augmentCodes !== 0 ? new Uint8Array(memory.buffer) : null;
    const words = L.augmentCodes !== 0 ? new Int32Array(memory.buffer) : null;
    for (;;) {
      // Claim the next task of this chunk, never past its end (a late thread must not take the next chunk's). Task
      // numbers are int32 words that wrap: they are compared by their difference, as an int32.
      const task = Atomics.load(ctrl, CTRL.claimed);
      if (((task - end) | 0) >= 0) return;
      if (Atomics.compareExchange(ctrl, CTRL.claimed, task, (task + 1) | 0) !== task) continue;
      // A step is S shard tasks, then W slice tasks; each of the two phases starts when the one before it is done.
      const local = (task - first) | 0;
      const s = Math.floor(local / (S + W));
      const r = local - s * (S + W);
      const shard = r < S;
      const k = shard ? r : r - S;
      const stepFirst = (first + s * (S + W)) | 0;
      waitUntilCompleted(shard ? stepFirst : (stepFirst + S) | 0);
      if (shard) {
        const lo = split(B, S, k);
        const hi = split(B, S, k + 1);
        const position = cursor0 + s * B + lo;
        if (bytes && words) {
          const staged = stageAugmented(bytes, words, position, hi - lo);
          shardLoss[s * S + k] = backend.trainShard(L.params, L.grads + k * L.gradStrideBytes, staged.images, staged.labels, staged.indices, hi - lo, invBatch, scratchOf(), statsPtr);
        } else {
          const indices = L.permutation + position * 4;
          shardLoss[s * S + k] = backend.trainShard(L.params, L.grads + k * L.gradStrideBytes, L.trainImages, L.trainLabels, indices, hi - lo, invBatch, scratchOf(), statsPtr);
        }
        shardCorrect[s * S + k] = stats[index * 4];
      } else {
        const t = startStep + s + 1;
        // Without bias correction (the ablation) both are 1, as optim/hyperparameters.ts biasCorrectionsOf says.
        hyper.biasCorrection1 = hyper.biasCorrection ? biasCorrection(hyper.beta1, t) : 1;
        hyper.biasCorrection2 = hyper.biasCorrection ? biasCorrection(hyper.beta2, t) : 1;
        hyper.step = t;
        hyper.learningRate = stepLearningRate[s]; // the step's own lr (its schedule's), written with the chunk
        backend.optimizerSlice(hyper, L.params, L.grads, L.gradStrideBytes, S, L.m, L.v, L.vMax, split(L.parameterCount, W, k, 4), split(L.parameterCount, W, k + 1, 4));
      }
      const completed = Atomics.add(ctrl, CTRL.completed, 1) + 1;
      if (((completed - end) | 0) === 0) {
        Atomics.add(ctrl, CTRL.chunkDone, 1); // the chunk is done: the engine's main thread waits for this
        Atomics.notify(ctrl, CTRL.chunkDone);
      }
      const done = ((completed - first) | 0) % (S + W);
      if (done === 0 || done === S) Atomics.notify(ctrl, CTRL.completed); // a phase is complete
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

  // Evaluation tasks until none is left (EVAL_TASK_IMAGES test images each, the loss of each in its own slot).
  const evaluate = () => {
    const scratch = scratchOf();
    for (;;) {
      const task = Atomics.add(ctrl, CTRL.evalClaimed, 1);
      const n = Atomics.load(ctrl, CTRL.evalCount);
      const tasks = evalTasks(n);
      if (task >= tasks) return;
      const lo = task * EVAL_TASK_IMAGES;
      const count = Math.min(EVAL_TASK_IMAGES, n - lo);
      results[task] = backend.evalShard(L.params, L.testImages, L.testLabels, L.testIndices + lo * 4, count, scratch, L.predictions + lo * 4);
      if (Atomics.add(ctrl, CTRL.evalCompleted, 1) + 1 === tasks) Atomics.notify(ctrl, CTRL.evalCompleted);
    }
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
      // A worker the governor left out of training waits for the next command (any thread takes any task).
      if (command === COMMAND.train) {
        if (index < Atomics.load(ctrl, CTRL.activeThreads)) trainChunk();
      }
      else if (command === COMMAND.evaluate) evaluate();
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
    Atomics.notify(ctrl, CTRL.evalCompleted);
    throw e;
  }
}
