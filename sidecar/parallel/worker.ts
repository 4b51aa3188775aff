// A training worker thread. It waits on the shared control block for a command from the engine. For a training
// chunk it takes tasks until there are none left (layout.ts): the forward/backward of one shard of a step's batch
// into that shard's gradient buffer, or the optimizer on one slice of the parameters (summing every shard's
// gradients in shard order). An evaluation is tasks too, of EVAL_TASK_IMAGES test images each. Which thread runs
// which task does not change a number; a thread that is not scheduled (another program has the core) leaves its
// share to the others instead of holding them at a barrier, and a shard task it holds is done again by a thread that
// waits for it too long (layout.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels, heapBase } from '../kernels/loader';
import { ARENA_BASE } from './arena';
import { referenceBackend, wasmBackend, type Backend, type StepHyper } from './backend';
import { CTRL, COMMAND, EVAL_TASK_IMAGES, HYPER, LINE_WORDS, MAX_CHUNK_STEPS, rescueRegions, evalTasks, split, stagingOffset, type EngineLayout } from './layout';
import { augmentImage } from '../data/augment';
import { biasCorrection, OPTIMIZERS } from '../optim/hyperparameters';

export interface WorkerInit {
  index: number;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module | null; // null: the TypeScript reference layers
  layout: EngineLayout;
  spinIterations: number;
  stall?: StallOptions;
  rescueAfterShards: number;
}

/** Tests: worker `worker` stops for `ms` in every `every`-th shard task it claims, as a thread that another program takes
 *  off its core does: in turn before it takes the shard's buffer, after taking it, and after computing the gradient. */
export interface StallOptions {
  worker: number;
  every: number;
  ms: number;
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
  // The rescue's regions (layout.ts rescueRegions), which the engine allocates when a chunk first rescues: views made
  // when a chunk finds them moved (CTRL.rescueBase), on the memory as it is then (it may have grown).
  let rescueBase = 0;
  let gradTable = new Int32Array(0);
  let gradWriting = new Int32Array(0);
  let shardDone = new Int32Array(0);
  let shardRescue = new Int32Array(0);
  let spareGrads = 0;
  let gradTableOffset = 0; // where the table is, for the kernels when a shard's buffer is not its own
  // The gradient buffer this thread computes into when it takes on another's shard (layout.ts); swapped with the
  // shard's when it wins one.
  let spare = 0;
  const attachRescue = (base: number) => {
    const R = rescueRegions(base, L);
    const b = memory.buffer;
    gradTable = new Int32Array(b, R.gradTable, L.maxShards);
    gradWriting = new Int32Array(b, R.gradWriting, (L.maxShards + W) * LINE_WORDS);
    shardDone = new Int32Array(b, R.shardDone, L.maxShards * LINE_WORDS);
    shardRescue = new Int32Array(b, R.shardRescue, L.maxShards * LINE_WORDS);
    spareGrads = R.spareGrads;
    gradTableOffset = R.gradTable;
    spare = spareGrads + index * L.gradStrideBytes;
    rescueBase = base;
  };
  // Each buffer's gradWriting word: the shards' buffers first, then the spares.
  const writingWord = (offset: number) => (offset >= spareGrads ? L.maxShards + (offset - spareGrads) / L.gradStrideBytes : (offset - L.grads) / L.gradStrideBytes) * LINE_WORDS;
  // Whether this chunk rescues (CTRL.rescueMode, read with the chunk), and the shards' buffers as the chunk began: in
  // a chunk that does not rescue no buffer changes hands, and the threads read neither the table nor the rescue's words.
  let rescuing = false;
  const chunkTable = new Int32Array(L.maxShards);
  let chunkInOrder = true;
  const stall = init.stall;
  const stallCell = new Int32Array(new SharedArrayBuffer(4));
  let stalledShards = 0;
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
  // Waits until `completed` reaches `count`.
  const waitUntilCompleted = (count: number) => {
    for (let i = 0; ; i++) {
      const completed = Atomics.load(ctrl, CTRL.completed);
      if (((completed - count) | 0) >= 0) return;
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, CTRL.completed, completed, 50);
    }
  };
  // How long this thread's own shards take (ms; 0 until it has done one in a chunk that rescues): the fastest of the
  // shards it won, let grow by 5% a shard so that it follows a larger batch. A shard during which the thread lost its
  // core is not a shard's time, and must not hold the estimate up: an exponential mean that began with one (a test's
  // stop of 2-6 ms falls inside the timed shard) decays by a tenth a shard, and one of rescue.test.ts's random runs with
  // stops then won no shard.
  let shardMs = 0;
  const rescueAfter = init.rescueAfterShards;
  // Waits, in a chunk that rescues, until the shards of step s (its first task stepFirst) are done: it spins as long as
  // waitUntilCompleted does (20,000 iterations, about 200 µs), and once rescueAfter of its own shards' time has passed
  // it takes on a shard another thread holds (rescue), while there is one; then it waits. A thread that holds a shard
  // and keeps its core finishes it within about a shard's time: at batch 32 (four images a shard, about 0.3 ms) threads
  // that took shards on after 200 µs beside short wakeups took on 92 a second and won 3 (BENCHMARKS.md twenty-ninth
  // round).
  const waitOrRescue = (stepFirst: number, s: number) => {
    const count = (stepFirst + S) | 0;
    const rescueAt = performance.now() + rescueAfter * shardMs;
    let canRescue = true;
    for (let i = 0; ; i++) {
      const completed = Atomics.load(ctrl, CTRL.completed);
      if (((completed - count) | 0) >= 0) return;
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i < spin) continue;
      if (canRescue) {
        const left = rescueAt - performance.now();
        if (left > 0) Atomics.wait(ctrl, CTRL.completed, completed, left);
        else canRescue = rescue(stepFirst, s); // nothing to take on: wait for the shards
        continue;
      }
      Atomics.wait(ctrl, CTRL.completed, completed, 50);
    }
  };

  // The chunk this thread takes part in (trainChunk reads it), and what each of its tasks does. These are made once, not
  // for each chunk, so that the hot ones stay optimized as single closures.
  let startStep = 0, cursor0 = 0, B = 1, S = 1, first = 0, end = 0, invBatch = 1;
  let bytes: Uint8Array | null = null;
  let words: Int32Array | null = null;
  // Counts a task done: the thread that completes a phase wakes the threads waiting for it, and the one that completes
  // the chunk wakes the engine.
  const complete = () => {
    const completed = Atomics.add(ctrl, CTRL.completed, 1) + 1;
    if (((completed - end) | 0) === 0) {
      Atomics.add(ctrl, CTRL.chunkDone, 1); // the chunk is done: the engine's main thread waits for this
      Atomics.notify(ctrl, CTRL.chunkDone);
    }
    const done = ((completed - first) | 0) % (S + W);
    if (done === 0 || done === S) Atomics.notify(ctrl, CTRL.completed); // a phase is complete
  };
  const isDone = (k: number, task: number) => ((Atomics.load(shardDone, k * LINE_WORDS) - task) | 0) >= 0;
  // Shard task `task` (shard k of step s), this thread's own (`own`) or another's that it takes on: the gradient goes
  // into a buffer that no other thread writes meanwhile, and the first thread to finish the task wins it: its loss,
  // correct count and buffer are the shard's. Returns whether this thread won it.
  const runShard = (task: number, s: number, k: number, own: boolean): boolean => {
    const stop = own && stall !== undefined && stall.worker === index && ++stalledShards % stall.every === 0 ? (stalledShards / stall.every) % 3 : -1;
    if (stop === 0) Atomics.wait(stallCell, 0, 0, stall!.ms);
    let grads: number;
    let word: number;
    if (own) {
      // The shard's buffer. While the task is not done no other thread writes it: a thread that lost an earlier
      // step's task in it still holds it (gradWriting) only once a rescue has made it that rescuer's spare.
      for (;;) {
        if (isDone(k, task)) return false;
        grads = Atomics.load(gradTable, k);
        word = writingWord(grads);
        if (Atomics.compareExchange(gradWriting, word, 0, 1) !== 0) {
          if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
          continue;
        }
        if (!isDone(k, task) && Atomics.load(gradTable, k) === grads) break;
        Atomics.store(gradWriting, word, 0);
      }
    } else {
      grads = spare;
      word = writingWord(grads);
      // The spare may be a shard's old buffer that the thread which lost that shard is still writing.
      if (Atomics.compareExchange(gradWriting, word, 0, 1) !== 0) return false;
    }
    if (stop === 1) Atomics.wait(stallCell, 0, 0, stall!.ms);
    const lo = split(B, S, k);
    const hi = split(B, S, k + 1);
    const position = cursor0 + s * B + lo;
    let loss: number;
    if (bytes && words) {
      const staged = stageAugmented(bytes, words, position, hi - lo);
      loss = backend.trainShard(L.params, grads, staged.images, staged.labels, staged.indices, hi - lo, invBatch, scratchOf(), statsPtr);
    } else {
      loss = backend.trainShard(L.params, grads, L.trainImages, L.trainLabels, L.permutation + position * 4, hi - lo, invBatch, scratchOf(), statsPtr);
    }
    if (stop === 2) Atomics.wait(stallCell, 0, 0, stall!.ms);
    let won = false;
    while (!won) {
      const last = Atomics.load(shardDone, k * LINE_WORDS);
      if (((last - task) | 0) >= 0) break; // another thread finished it first
      if (Atomics.compareExchange(shardDone, k * LINE_WORDS, last, task) === last) {
        won = true;
        break;
      }
    }
    if (won) {
      if (!own) {
        // This buffer is the shard's now; its old one, which the loser may still be writing, is this thread's spare.
        spare = Atomics.exchange(gradTable, k, grads);
        Atomics.add(ctrl, CTRL.rescued, 1);
      }
      shardLoss[s * S + k] = loss;
      shardCorrect[s * S + k] = stats[index * 4];
    }
    Atomics.store(gradWriting, word!, 0);
    if (won) complete();
    return won;
  };
  // This thread holds an optimizer task of step s and has waited for the step's shards too long: it does one that another
  // thread claimed and has not finished (that thread was most likely taken off its core by another program). Returns
  // whether it did one.
  const rescue = (stepFirst: number, s: number): boolean => {
    if (Atomics.load(gradWriting, writingWord(spare)) !== 0) return false; // the spare's loser is still writing it
    for (let k = 0; k < S; k++) {
      const shardTask = (stepFirst + k) | 0;
      if (isDone(k, shardTask)) continue;
      const last = Atomics.load(shardRescue, k * LINE_WORDS);
      if (((last - shardTask) | 0) >= 0) continue; // another thread took it on
      if (Atomics.compareExchange(shardRescue, k * LINE_WORDS, last, shardTask) !== last) continue;
      Atomics.add(ctrl, CTRL.rescuesTaken, 1);
      runShard(shardTask, s, k, false);
      return true;
    }
    return false;
  };
  const trainChunk = () => {
    // The chunk's parameters and hyperparameters as one consistent snapshot (the engine writes them under a
    // seqlock): a thread that comes late may read the next chunk's, and then takes part in that one.
    let base = 0;
    for (let i = 0; ; i++) {
      const version = Atomics.load(ctrl, CTRL.chunkVersion);
      if ((version & 1) === 0) {
        startStep = Atomics.load(ctrl, CTRL.chunkStartStep);
        cursor0 = Atomics.load(ctrl, CTRL.chunkCursor);
        B = Atomics.load(ctrl, CTRL.batchSize);
        S = Atomics.load(ctrl, CTRL.chunkShards);
        rescuing = Atomics.load(ctrl, CTRL.rescueMode) !== 0 && W > 1;
        base = Atomics.load(ctrl, CTRL.rescueBase);
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
    invBatch = 1 / B;
    // The shards' buffers as the chunk begins: in order until a chunk rescues, then as the table lists them.
    if (base !== 0 && base !== rescueBase) attachRescue(base);
    chunkInOrder = true;
    for (let j = 0; j < S; j++) {
      chunkTable[j] = base !== 0 ? Atomics.load(gradTable, j) : L.grads + j * L.gradStrideBytes;
      chunkInOrder &&= chunkTable[j] === L.grads + j * L.gradStrideBytes;
    }
    // With augmentation, a shard's images are staged (flipped and cropped) after the thread's kernel scratch; the
    // views are made once a chunk because a batch-size change may have grown the memory since the last one.
    bytes = L.augmentCodes !== 0 ? new Uint8Array(memory.buffer) : null;
    words = L.augmentCodes !== 0 ? new Int32Array(memory.buffer) : null;
    if (rescuing) rescueChunk();
    else plainChunk();
  };

  // A chunk whose threads wait for a held shard, as before the rescue: its own function, so that the rescue's code
  // cannot slow it (BENCHMARKS.md twenty-eighth round).
  const plainChunk = () => {
    for (;;) {
      // Claim the next task of this chunk, never past its end (a late thread must not take the next chunk's). Task
      // numbers are int32 words that wrap: they are compared by their difference, as an int32.
      const task = Atomics.load(ctrl, CTRL.claimed);
      if (((task - end) | 0) >= 0) return;
      // A step is S shard tasks, then W slice tasks; each of the two phases starts when the one before it is done.
      const local = (task - first) | 0;
      const s = Math.floor(local / (S + W));
      const r = local - s * (S + W);
      const shard = r < S;
      const k = shard ? r : r - S;
      const stepFirst = (first + s * (S + W)) | 0;
      // The task is claimed once its phase has begun, not before (layout.ts).
      const phaseFirst = shard ? stepFirst : (stepFirst + S) | 0;
      if (((Atomics.load(ctrl, CTRL.completed) - phaseFirst) | 0) < 0) {
        waitUntilCompleted(phaseFirst);
        continue;
      }
      if (Atomics.compareExchange(ctrl, CTRL.claimed, task, (task + 1) | 0) !== task) continue;
      if (shard) {
        const lo = split(B, S, k);
        const hi = split(B, S, k + 1);
        const position = cursor0 + s * B + lo;
        if (bytes && words) {
          const staged = stageAugmented(bytes, words, position, hi - lo);
          shardLoss[s * S + k] = backend.trainShard(L.params, chunkTable[k], staged.images, staged.labels, staged.indices, hi - lo, invBatch, scratchOf(), statsPtr);
        } else {
          const indices = L.permutation + position * 4;
          shardLoss[s * S + k] = backend.trainShard(L.params, chunkTable[k], L.trainImages, L.trainLabels, indices, hi - lo, invBatch, scratchOf(), statsPtr);
        }
        shardCorrect[s * S + k] = stats[index * 4];
      } else {
        const t = startStep + s + 1;
        // Without bias correction (the ablation) both are 1, as optim/hyperparameters.ts biasCorrectionsOf says.
        hyper.biasCorrection1 = hyper.biasCorrection ? biasCorrection(hyper.beta1, t) : 1;
        hyper.biasCorrection2 = hyper.biasCorrection ? biasCorrection(hyper.beta2, t) : 1;
        hyper.step = t;
        hyper.learningRate = stepLearningRate[s]; // the step's own lr (its schedule's), written with the chunk
        backend.optimizerSlice(hyper, L.params, chunkInOrder ? L.grads : gradTableOffset, chunkInOrder ? L.gradStrideBytes : 0, S, L.m, L.v, L.vMax, split(L.parameterCount, W, k, 4), split(L.parameterCount, W, k + 1, 4));
      }
      complete();
    }
  };

  // A chunk whose threads take on a shard held too long (layout.ts).
  const rescueChunk = () => {
    for (;;) {
      // Claim the next task of this chunk, never past its end (a late thread must not take the next chunk's). Task
      // numbers are int32 words that wrap: they are compared by their difference, as an int32.
      const task = Atomics.load(ctrl, CTRL.claimed);
      if (((task - end) | 0) >= 0) return;
      // A step is S shard tasks, then W slice tasks; each of the two phases starts when the one before it is done.
      const local = (task - first) | 0;
      const s = Math.floor(local / (S + W));
      const r = local - s * (S + W);
      const shard = r < S;
      const k = shard ? r : r - S;
      const stepFirst = (first + s * (S + W)) | 0;
      // The task is claimed once its phase has begun, not before (layout.ts); a thread waiting for the shards takes on
      // one that is held too long meanwhile.
      const phaseFirst = shard ? stepFirst : (stepFirst + S) | 0;
      if (((Atomics.load(ctrl, CTRL.completed) - phaseFirst) | 0) < 0) {
        if (shard) waitUntilCompleted(phaseFirst);
        else waitOrRescue(stepFirst, s);
        continue;
      }
      if (Atomics.compareExchange(ctrl, CTRL.claimed, task, (task + 1) | 0) !== task) continue;
      if (shard) {
        // Counted done by runShard, unless another thread did it first (this one was taken off its core).
        const t0 = performance.now();
        if (runShard(task, s, k, true)) {
          const ms = performance.now() - t0;
          shardMs = shardMs === 0 ? ms : Math.min(ms, 1.05 * shardMs);
        }
      } else {
        const t = startStep + s + 1;
        // Without bias correction (the ablation) both are 1, as optim/hyperparameters.ts biasCorrectionsOf says.
        hyper.biasCorrection1 = hyper.biasCorrection ? biasCorrection(hyper.beta1, t) : 1;
        hyper.biasCorrection2 = hyper.biasCorrection ? biasCorrection(hyper.beta2, t) : 1;
        hyper.step = t;
        hyper.learningRate = stepLearningRate[s]; // the step's own lr (its schedule's), written with the chunk
        // The shards' buffers are in order unless a rescue swapped one: then the kernels read them through the table.
        let inOrder = true;
        for (let j = 0; j < S && inOrder; j++) inOrder = Atomics.load(gradTable, j) === L.grads + j * L.gradStrideBytes;
        const lo = split(L.parameterCount, W, k, 4), hi = split(L.parameterCount, W, k + 1, 4);
        backend.optimizerSlice(hyper, L.params, inOrder ? L.grads : gradTableOffset, inOrder ? L.gradStrideBytes : 0, S, L.m, L.v, L.vMax, lo, hi);
        complete();
      }
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
