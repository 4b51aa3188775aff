// The shared control block and the offsets every worker needs, agreed between the engine (main thread)
// and the workers. Coordination is Atomics on these words; there is no postMessage per step.
//
// A training chunk is a list of tasks: for each step, one forward/backward task per shard of the batch, then one
// optimizer task per slice of the parameters. The shards and slices are logical (shardsPerStep(batch, workers) of
// each, so the numbers depend on the batch size and the worker count and nothing else); any thread may take any
// task. Tasks are numbered from the engine's start, and `posted`, `claimed` and `completed` only grow: a thread
// claims the next task with a compare-exchange on `claimed` (never at or past `posted`), finds its chunk's slot by
// the task's number, and may start a task of phase g only when `completed` has reached the first task of phase g
// (every task of the phases before it, of this chunk and the one before, is done). So a thread that the OS does not
// schedule holds nothing up, unless it holds a task it has claimed.

// Int32 slots of the control block.
export const CTRL = {
  commandWord: 0, // (sequence << 2) | command: one word, so a worker reads which command and which issue of it at once
  posted: 1, // training tasks posted so far (monotonic): threads claim below it
  done: 2, // workers that finished the current evaluation; the main thread waits on it
  claimed: 3, // training tasks claimed so far (monotonic)
  completed: 4, // training tasks completed so far (monotonic); workers and the engine wait on it
  abort: 5, // non-zero: stop at the next wait (a worker failed, or the engine is closing)
  evalCount: 13, // test images to evaluate
  failedWorker: 14, // index + 1 of a worker that failed
  scratchCapacity: 15, // images a worker's scratch holds
  chunkDone: 16, // bumped by the thread that completes a chunk's last task: the main thread waits on it, not on each phase
  size: 32,
} as const;

// The engine keeps up to CHUNK_SLOTS chunks posted (the next one queued while one trains, so the threads go from
// one chunk to the next without waiting for the main thread). Each chunk has a slot: its descriptor (Int32 words
// below, written under the slot's seqlock before the chunk's tasks are posted, and left alone until the chunk is
// done and its results read), its hyperparameters, its steps' learning rates, its shards' results and, when asked
// for, a snapshot of the optimizer's state after its last step.
export const CHUNK_SLOTS = 2;
export const CHUNK = {
  version: 0, // seqlock: odd while the engine writes the slot
  first: 1, // the chunk's first task
  end: 2, // one past its last task
  steps: 3,
  startStep: 4, // optimizer steps taken before the chunk (Adam's t is startStep + i + 1)
  cursor: 5, // index into the permutation of the chunk's first sample
  batchSize: 6,
  shards: 7, // shardsPerStep(batchSize, workers)
  threads: 8, // workers with an index below this take the chunk's tasks (governor.ts)
  snapshot: 9, // 1: copy params, m, v and vMax after the last step's optimizer slices into the slot's snapshot
  finished: 10, // the chunk's end task, stored (after completedAt) by the thread that completes the chunk
  size: 16,
} as const;

export const COMMAND = { idle: 0, train: 1, evaluate: 2, exit: 3 } as const;

// Float64 slots of a hyperparameter block (pending: written by the main thread; active: what the step uses). The
// optimizer slot holds its index in optim/hyperparameters.ts OPTIMIZERS; the flags hold 1 or 0.
export const HYPER = { learningRate: 0, beta1: 1, beta2: 2, epsilon: 3, weightDecay: 4, momentum: 5, optimizer: 6, alpha: 7, biasCorrection: 8, nesterov: 9, size: 10 } as const;

/** Most steps in one chunk: per-step results are kept in arrays of this length. */
export const MAX_CHUNK_STEPS = 4096;

export interface EngineLayout {
  workers: number;
  parameterCount: number;
  control: number; // Int32[CTRL.size]
  results: number; // Float64[workers * 2]: loss sum of each worker's eval slice
  maxShards: number; // workers * MAX_SHARDS_PER_WORKER (1 with one worker): the most shards a step has
  // Per chunk slot (CHUNK_SLOTS of each, one after the other):
  chunks: number; // Int32[CHUNK.size]: the descriptor
  chunkHyper: number; // Float64[HYPER.size]: the hyperparameters the chunk's steps use
  completedAt: number; // Float64[1]: when the chunk's last task was done (ms since the epoch, performance clock)
  shardLoss: number; // Float64[MAX_CHUNK_STEPS * maxShards]: each step's loss sum per shard
  shardCorrect: number; // Int32[MAX_CHUNK_STEPS * maxShards]: each step's correct count per shard
  stepLearningRate: number; // Float64[MAX_CHUNK_STEPS]: the lr each step of the chunk uses (its schedule's, optim/schedule.ts)
  snapshot: number; // Float32[4 * gradStrideBytes / 4]: params, m, v, vMax after the chunk's last step (when asked for)
  params: number;
  grads: number; // maxShards buffers of gradStrideBytes each
  gradStrideBytes: number;
  m: number;
  v: number;
  vMax: number;
  permutation: number; // Int32[trainCount]
  augmentCodes: number; // Uint8[trainCount]: each permutation position's flip-crop code (data/augment.ts); 0: no augmentation
  testIndices: number; // Int32[testCount]: 0..testCount-1
  predictions: number; // Int32[testCount]
  scratchTable: number; // Int32[workers]: each thread's scratch offset (reallocated when the batch outgrows it)
  stats: number; // Int32[workers * 4]: each thread's kernel stats (correct count)
  trainImages: number;
  trainLabels: number;
  trainCount: number;
  testImages: number;
  testLabels: number;
  testCount: number;
}

/** Most shards a step's batch is cut into per worker (tasks of at least MIN_SHARD_IMAGES images each). */
export const MAX_SHARDS_PER_WORKER = 4;
export const MIN_SHARD_IMAGES = 4;

/**
 * The shards of one step's batch (and the slices of its optimizer step): one per worker at small batches, up to
 * MAX_SHARDS_PER_WORKER per worker at large ones (never below MIN_SHARD_IMAGES images a shard), one with one worker.
 * A thread the OS takes off its core in the middle of a task holds the others at the phase's end until it is back:
 * with one task per worker, the other threads had only their own task to do meanwhile, and at batch 32 one task is
 * 1.5 ms, longer than an editor's frame (issue 13). With finer tasks they take the rest of the phase. Each shard sums
 * its own gradient in a buffer of its own and the optimizer adds them in shard order: the numbers are those of this
 * count, whichever threads run the tasks.
 */
export function shardsPerStep(batchSize: number, workers: number): number {
  if (workers <= 1) return 1;
  return workers * Math.max(1, Math.min(MAX_SHARDS_PER_WORKER, Math.floor(batchSize / (workers * MIN_SHARD_IMAGES))));
}

/** Splits [0, n) into `parts` contiguous ranges; range k is [bound(k), bound(k+1)). */
export function split(n: number, parts: number, k: number, align = 1): number {
  if (k >= parts) return n;
  return Math.min(n, Math.floor((Math.floor((n * k) / parts)) / align) * align);
}

/** Where a worker stages a shard's augmented images: after its kernels' scratch (scratchBytes(capacity) rounded up to 16). */
export function stagingOffset(scratch: number, kernelScratchBytes: number): number {
  return scratch + Math.ceil(kernelScratchBytes / 16) * 16;
}

/** Bytes of a staging area for `capacity` images: the uint8 images, their labels, and indices 0..capacity-1 (int32). */
export function stagingBytes(capacity: number): number {
  return 16 + capacity * 3072 + Math.ceil(capacity / 16) * 16 + capacity * 4;
}
