// The shared control block and the offsets every worker needs, agreed between the engine (main thread)
// and the workers. Coordination is Atomics on these words; there is no postMessage per step.

// Int32 slots of the control block.
export const CTRL = {
  commandSeq: 0, // incremented by the main thread to issue a command; workers wait on it
  command: 1, // one of COMMAND
  done: 2, // workers that finished the current command; the main thread waits on it
  arrive: 3, // barrier arrivals within a command
  release: 4, // barrier generation released by the last arriver
  abort: 5, // non-zero: stop at the next wait (a worker failed, or the engine is closing)
  chunkSteps: 6, // steps in this chunk
  chunkStartStep: 7, // optimizer steps taken before the chunk (Adam's t is chunkStartStep + i + 1)
  chunkCursor: 8, // index into the permutation of the chunk's first sample
  batchSize: 9,
  hyperVersion: 10, // seqlock over the pending hyperparameters: odd while the main thread writes
  appliedVersion: 11, // last pending version copied into the active block
  appliedAtStep: 12, // the step (1-based t) at which appliedVersion took effect
  evalCount: 13, // test images to evaluate
  failedWorker: 14, // index + 1 of a worker that failed
  scratchCapacity: 15, // images a worker's scratch holds
  size: 32,
} as const;

export const COMMAND = { idle: 0, train: 1, evaluate: 2, exit: 3 } as const;

// Float64 slots of a hyperparameter block (pending: written by the main thread; active: what the step uses). The
// optimizer slot holds its index in optim/hyperparameters.ts OPTIMIZERS.
export const HYPER = { learningRate: 0, beta1: 1, beta2: 2, epsilon: 3, weightDecay: 4, momentum: 5, optimizer: 6, size: 8 } as const;

/** Most steps in one chunk: per-step results are kept in arrays of this length. */
export const MAX_CHUNK_STEPS = 4096;

export interface EngineLayout {
  workers: number;
  parameterCount: number;
  control: number; // Int32[CTRL.size]
  pendingHyper: number; // Float64[HYPER.size]
  activeHyper: number; // Float64[HYPER.size]
  results: number; // Float64[workers * 2]: loss sum, correct count of the worker's latest shard or eval slice
  stepLoss: number; // Float64[MAX_CHUNK_STEPS]: each step's mean loss
  stepCorrect: number; // Int32[MAX_CHUNK_STEPS]
  params: number;
  grads: number; // workers buffers of gradStrideBytes each
  gradStrideBytes: number;
  m: number;
  v: number;
  vMax: number;
  permutation: number; // Int32[trainCount]
  testIndices: number; // Int32[testCount]: 0..testCount-1
  predictions: number; // Int32[testCount]
  scratchTable: number; // Int32[workers]: each worker's scratch offset (reallocated when the batch outgrows it)
  stats: number; // Int32[workers * 4]: each worker's kernel stats (correct count)
  trainImages: number;
  trainLabels: number;
  trainCount: number;
  testImages: number;
  testLabels: number;
  testCount: number;
}

/** Splits [0, n) into `parts` contiguous ranges; range k is [bound(k), bound(k+1)). */
export function split(n: number, parts: number, k: number, align = 1): number {
  if (k >= parts) return n;
  return Math.min(n, Math.floor((Math.floor((n * k) / parts)) / align) * align);
}
