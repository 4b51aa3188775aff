// The shared control block and the offsets every worker needs, agreed between the engine (main thread)
// and the workers. Coordination is Atomics on these words; there is no postMessage per step.
//
// A training chunk is a list of tasks: for each step, one forward/backward task per shard of the batch, then one
// optimizer task per slice of the parameters. The shards and slices are logical (shardsPerStep(batch, workers)
// shards and `workers` slices, so the numbers depend on the worker count and batch size and nothing else); any
// thread may take any task. Tasks are numbered from the engine's start, and `claimed` / `completed` only grow: a
// thread claims the next task with a compare-exchange on `claimed` (never past the chunk's end), and only once the
// task's phase has begun: `completed` has reached the phase's first task (every task of the phases before it is done).
// A thread that waits for a phase holds nothing (one that claimed first and then waited held its task through any
// spell off its core: in code-server at batch 32, a quarter of the waits longer than the spin were for such a thread,
// BENCHMARKS.md thirtieth round). So a thread that the OS does not schedule holds nothing up, unless it holds a task it
// has claimed and not finished; at large batches a step has several shards per worker, so that task is a fraction of
// a worker's share, and the threads end a phase closer together (bench/shards.ts, batch 32, two workers: 1.01-1.06x
// idle, paired in one process; no change measured beyond the noise under a load of short wakeups or with a core busy).
//
// A shard task that a thread holds too long (another program took its core) is done again by a thread that has waited
// for it RESCUE_AFTER_SHARDS of its own shards' time (worker.ts `waitOrRescue`, `rescue`). Each of the two computes
// the gradient into a buffer it alone writes (`gradWriting`): the owner into the shard's buffer (`gradTable`), the
// other into its spare. The first to finish wins the task (`shardDone`); when that is the spare, the spare becomes the
// shard's buffer and the shard's old buffer becomes the spare, which is not written again until the loser has finished
// with it. The optimizer tasks sum the shards' buffers through the table in shard order. The same inputs give the same
// bits, so who wins never changes a number. An optimizer task updates the parameters in place and is not done twice. The engine turns this on for a chunk
// (`rescueMode`) while other programs keep part of the machine busy: on an idle machine it cost more than it won.
// Its regions are allocated when a chunk first rescues, and a chunk that does not rescue runs code of its own
// (worker.ts plainChunk): the rescue's memory and code slowed runs that never used them (BENCHMARKS.md twenty-eighth
// round).

// Int32 slots of the control block.
export const CTRL = {
  commandWord: 0, // (sequence << 2) | command: one word, so a worker reads which command and which issue of it at once
  chunkVersion: 1, // seqlock over the chunk's parameters and the active hyperparameters: odd while the engine writes
  rescued: 2, // shard tasks won by a thread that did them again for a thread that held them (worker.ts), since the start
  claimed: 3, // training tasks claimed so far (monotonic)
  completed: 4, // training tasks completed so far (monotonic); workers and the engine wait on it
  abort: 5, // non-zero: stop at the next wait (a worker failed, or the engine is closing)
  chunkSteps: 6, // steps in this chunk
  chunkStartStep: 7, // optimizer steps taken before the chunk (Adam's t is chunkStartStep + i + 1)
  chunkCursor: 8, // index into the permutation of the chunk's first sample
  batchSize: 9,
  chunkFirstTask: 10, // the number of this chunk's first task
  chunkEndTask: 11, // one past its last task
  activeThreads: 12, // workers with an index below this take training tasks (governor.ts); the others wait
  evalCount: 13, // test images to evaluate
  failedWorker: 14, // index + 1 of a worker that failed
  scratchCapacity: 15, // images a worker's scratch holds
  chunkDone: 16, // bumped by the thread that completes a chunk's last task: the main thread waits on it, not on each phase
  chunkShards: 17, // forward/backward tasks (shards) per step of this chunk: shardsPerStep(batchSize, workers)
  evalClaimed: 18, // evaluation tasks (EVAL_TASK_IMAGES test images each) claimed; reset to 0 before each evaluation
  evalCompleted: 19, // evaluation tasks completed; the main thread waits on it
  rescueMode: 20, // 1: this chunk's waiting threads take on held shards (worker.ts rescue); 0: they wait, as without it
  rescueBase: 21, // where the rescue's regions are (rescueRegions), 0 until a chunk first rescues
  rescuesTaken: 22, // shard tasks a waiting thread took on (worker.ts rescue), won or lost, since the start
  size: 32,
} as const;

export const COMMAND = { idle: 0, train: 1, evaluate: 2, exit: 3 } as const;

// Float64 slots of a hyperparameter block (pending: written by the main thread; active: what the step uses). The
// optimizer slot holds its index in optim/hyperparameters.ts OPTIMIZERS; the flags hold 1 or 0.
export const HYPER = { learningRate: 0, beta1: 1, beta2: 2, epsilon: 3, weightDecay: 4, momentum: 5, optimizer: 6, alpha: 7, biasCorrection: 8, nesterov: 9, size: 10 } as const;

/** A thread waiting for a step's shards takes on one another thread holds once this many of its own shards' time has
 *  passed (worker.ts waitOrRescue): a thread that holds one and runs has finished it by then. */
export const RESCUE_AFTER_SHARDS = 1.5;

/** Int32 words in a cache line: the rescue's words that threads write often sit one to a line, so that threads working
 *  on different shards do not take a line from each other. */
export const LINE_WORDS = 16;

/** The rescue's regions, one block that the engine allocates when a chunk first rescues (engine.ts): so that a run
 *  that never rescues has its memory where it lay without the rescue (BENCHMARKS.md twenty-eighth round). */
export function rescueRegions(base: number, L: Pick<EngineLayout, 'workers' | 'maxShards' | 'gradStrideBytes'>) {
  const line = LINE_WORDS * 4;
  const spareGrads = base; // workers buffers of gradStrideBytes each: each thread's spare when it starts (worker.ts)
  const gradTable = spareGrads + L.workers * L.gradStrideBytes; // Int32[maxShards]: the offset of each shard's buffer
  const gradWriting = gradTable + Math.ceil((L.maxShards * 4) / line) * line; // a line a buffer: 1 while one writes it
  const shardDone = gradWriting + (L.maxShards + L.workers) * line; // a line a shard: its last task done (the winner's)
  const shardRescue = shardDone + L.maxShards * line; // a line a shard: its last task a waiting thread took on
  return { spareGrads, gradTable, gradWriting, shardDone, shardRescue, bytes: shardRescue + L.maxShards * line - base };
}

/** Most steps in one chunk: per-step results are kept in arrays of this length. */
export const MAX_CHUNK_STEPS = 4096;

export interface EngineLayout {
  workers: number;
  /** Most shards a step may have (shardsPerStep's bound): gradient buffers, and per-step shard results. */
  maxShards: number;
  parameterCount: number;
  control: number; // Int32[CTRL.size]
  pendingHyper: number; // Float64[HYPER.size]
  activeHyper: number; // Float64[HYPER.size]
  results: number; // Float64[evalSlots]: the loss sum of each evaluation task
  evalSlots: number; // evalTasks(testCount), at least 1
  shardLoss: number; // Float64[MAX_CHUNK_STEPS * maxShards]: each step's loss sum per shard
  shardCorrect: number; // Int32[MAX_CHUNK_STEPS * maxShards]: each step's correct count per shard
  stepLearningRate: number; // Float64[MAX_CHUNK_STEPS]: the lr each step of the chunk uses (its schedule's, optim/schedule.ts)
  params: number;
  grads: number; // maxShards buffers of gradStrideBytes each: shard k's until a rescue swaps it (gradTable)
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

/** Most shards per worker in a step, and fewest images in a shard cut finer than one per worker. Each shard has its
 * own gradient buffer (250 KB), which the optimizer tasks sum in shard order. */
export const MAX_SHARDS_PER_WORKER = 4;
export const MIN_SHARD_IMAGES = 4;

/**
 * How many forward/backward tasks (shards) a step of `batchSize` images has with `workers` workers: one per worker,
 * or up to MAX_SHARDS_PER_WORKER per worker while each keeps MIN_SHARD_IMAGES images. One worker: one shard.
 */
export function shardsPerStep(batchSize: number, workers: number, maxPerWorker = MAX_SHARDS_PER_WORKER): number {
  if (workers <= 1) return 1;
  return workers * Math.max(1, Math.min(maxPerWorker, Math.floor(batchSize / (workers * MIN_SHARD_IMAGES))));
}

/** Test images in one evaluation task: any thread takes any task, as in training, and the loss is summed in task order
 * (the same number whatever the worker count). At most the scratch's smallest capacity (32). */
export const EVAL_TASK_IMAGES = 32;

export function evalTasks(count: number): number {
  return Math.ceil(count / EVAL_TASK_IMAGES);
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
