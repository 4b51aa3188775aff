// The parallel engine, main-thread side. It owns the worker threads and the shared layout, and runs
// training in chunks: it writes the chunk (first step, data cursor, batch size) into the control block,
// wakes the workers, and awaits their completion without blocking the event loop (Atomics.waitAsync), so
// the sidecar keeps serving its sockets while the workers train. Between chunks the run is quiescent:
// that is where evaluation, checkpoints, metrics and batch-size changes happen.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';
import { PARAMETER_COUNT } from '../nn/spec';
import type { ArenaAllocator } from './arena';
import { CTRL, COMMAND, HYPER, LINE_WORDS, MAX_CHUNK_STEPS, rescueRegions, MAX_SHARDS_PER_WORKER, evalTasks, shardsPerStep, stagingBytes, RESCUE_AFTER_SHARDS, type EngineLayout } from './layout';
import { OPTIMIZERS, type OptimizerHyperparameters } from '../optim/hyperparameters';
import { LoadMeter } from './freeCores';
import { ThreadGovernor, type GovernorOptions } from './governor';
import type { StallOptions } from './worker';

/** Other programs' cores (LoadMeter) from which a chunk rescues held shards by default: an editor's or a browser's
 *  work. On an idle machine the rescue costs more than it wins (BENCHMARKS.md twenty-eighth round). */
export const RESCUE_LOAD = 0.04;

/** Every engine's thread-milliseconds in chunks, in this process (a server trains several runs at once). */
let processTrainingMs = 0;

export interface EngineOptions {
  /** Where the engine's own regions go: a scope of the arena that holds the dataset (freed by its owner after close). */
  arena: ArenaAllocator;
  workers: number;
  module: WebAssembly.Module | null; // null: TypeScript reference layers
  scratchBytes: (capacity: number) => number;
  train: { images: Uint8Array; labels: Uint8Array; count: number };
  test: { images: Uint8Array; labels: Uint8Array; count: number };
  batchSize: number;
  hyper: OptimizerHyperparameters;
  /** flip-crop augmentation: codes per permutation position in `augmentCodes`, staged images in each worker's scratch. */
  augment?: boolean;
  spinIterations?: number;
  /**
   * Let the engine run training on fewer threads than workers when that is faster (governor.ts): default true,
   * false when ADAM_TRAINER_FIXED_THREADS=1 (benchmarks compare with fixed counts). Never changes a number.
   */
  adaptThreads?: boolean;
  governor?: GovernorOptions;
  /** Tell the governor what other programs keep busy (freeCores.ts LoadMeter): default true. Tests that drive the
   * governor with switching options turn it off, so that the machine's load does not pin their thread count. */
  watchLoad?: boolean;
  /** The number of the engine's first task, 0 by default (tests: task numbers are int32 words that wrap). */
  firstTask?: number;
  /**
   * Take on shards held too long by a thread off its core (worker.ts rescue): true always, false never; by default
   * while other programs keep at least RESCUE_LOAD cores busy (freeCores.ts LoadMeter); a function decides for each
   * chunk from its number (tests). The numbers never change.
   */
  rescue?: boolean | ((chunk: number) => boolean);
  /** How long a thread waits for a step's shards before it takes one on, in its own shards' time (worker.ts
   *  RESCUE_AFTER_SHARDS by default; benchmarks compare others, 0 takes one on as soon as the thread stops spinning). */
  rescueAfterShards?: number;
  /** Tests: one worker stops in some of the shard tasks it claims (worker.ts StallOptions). */
  stall?: StallOptions;
}

export interface ChunkResult {
  steps: number;
  losses: Float64Array; // view, valid until the next chunk
  correct: Int32Array;
  appliedAtStep: number | null; // set when staged hyperparameters took effect in this chunk (at its first step)
}

export function workerScriptPath(): string {
  for (const p of [join(__dirname, 'worker.js'), join(__dirname, '..', '..', 'dist', 'worker.js')]) if (existsSync(p)) return p;
  throw new Error('dist/worker.js not found: run `npm run build`');
}

/** The byte offset of a Uint8Array that lives in the arena's memory (the dataset loader allocated it there). */
function offsetIn(arena: ArenaAllocator, a: Uint8Array): number {
  if (a.buffer !== arena.memory.buffer && !(a.buffer instanceof SharedArrayBuffer)) throw new Error('dataset is not in shared memory');
  return a.byteOffset;
}

export class ParallelEngine {
  readonly layout: EngineLayout;
  readonly params: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly vMax: Float32Array;
  readonly permutation: Int32Array;
  readonly augmentCodes: Uint8Array; // empty without augmentation
  readonly predictions: Int32Array;
  private readonly ctrl: Int32Array;
  private readonly pending: Float64Array;
  private readonly active: Float64Array;
  private readonly results: Float64Array;
  private readonly shardLoss: Float64Array;
  private readonly shardCorrect: Int32Array;
  private readonly stepLearningRate: Float64Array;
  private readonly stepLoss = new Float64Array(MAX_CHUNK_STEPS);
  private readonly stepCorrect = new Int32Array(MAX_CHUNK_STEPS);
  private readonly scratchTable: Int32Array;
  /** The rescue's per-shard words (layout.ts rescueRegions), empty until a chunk first rescues. */
  private shardDone: Int32Array = new Int32Array(0);
  private shardRescue: Int32Array = new Int32Array(0);
  /** Other programs' cores, as the load meter last read them (undefined before its first window closes). */
  private othersBusy: number | undefined;
  /** Chunks this engine has run, and those of them in which waiting threads took on held shards (worker.ts rescue). */
  private chunks = 0;
  rescueChunks = 0;
  private readonly threads: Worker[] = [];
  private failure: Error | null = null;
  private busy = false;
  private closed = false;
  private batchSize: number;
  /** setHyper was called since the last chunk: the next chunk's first step takes the new values. */
  private hyperStaged = false;
  private nextTask = 0;
  /** Times the main thread was woken while it waited for the workers (tests: a chunk wakes it once, not every step). */
  wakeups = 0;
  private readonly governor: ThreadGovernor | null;
  private readonly load: LoadMeter | null;
  /** Thread-milliseconds this engine's chunks took (threads times wall time), and every engine's in this process. */
  private trainingMs = 0;

  private constructor(private readonly opts: EngineOptions) {
    const { arena, workers: W } = opts;
    const P = PARAMETER_COUNT;
    const padded = Math.ceil(P / 16) * 16;
    const a = (bytes: number) => arena.alloc(bytes);
    const S = shardsPerStep(Number.MAX_SAFE_INTEGER, W);
    const evalSlots = Math.max(1, evalTasks(opts.test.count));
    const L: EngineLayout = {
      workers: W,
      maxShards: S,
      parameterCount: P,
      control: a(CTRL.size * 4),
      pendingHyper: a(HYPER.size * 8),
      activeHyper: a(HYPER.size * 8),
      results: a(evalSlots * 8),
      evalSlots,
      shardLoss: a(MAX_CHUNK_STEPS * S * 8),
      shardCorrect: a(MAX_CHUNK_STEPS * S * 4),
      stepLearningRate: a(MAX_CHUNK_STEPS * 8),
      params: a(padded * 4),
      gradStrideBytes: padded * 4,
      grads: a(padded * 4 * S),
      m: a(padded * 4),
      v: a(padded * 4),
      vMax: a(padded * 4),
      permutation: a(opts.train.count * 4),
      augmentCodes: opts.augment ? a(opts.train.count) : 0,
      testIndices: a(opts.test.count * 4),
      predictions: a(opts.test.count * 4),
      scratchTable: a(W * 4),
      stats: a(W * 16),
      trainImages: offsetIn(arena, opts.train.images),
      trainLabels: offsetIn(arena, opts.train.labels),
      trainCount: opts.train.count,
      testImages: offsetIn(arena, opts.test.images),
      testLabels: offsetIn(arena, opts.test.labels),
      testCount: opts.test.count,
    };
    this.layout = L;
    this.ctrl = arena.i32(L.control, CTRL.size);
    this.pending = arena.f64(L.pendingHyper, HYPER.size);
    this.active = arena.f64(L.activeHyper, HYPER.size);
    this.results = arena.f64(L.results, evalSlots);
    this.shardLoss = arena.f64(L.shardLoss, MAX_CHUNK_STEPS * S);
    this.shardCorrect = arena.i32(L.shardCorrect, MAX_CHUNK_STEPS * S);
    this.stepLearningRate = arena.f64(L.stepLearningRate, MAX_CHUNK_STEPS);
    this.scratchTable = arena.i32(L.scratchTable, W);
    this.params = arena.f32(L.params, P);
    this.m = arena.f32(L.m, P);
    this.v = arena.f32(L.v, P);
    this.vMax = arena.f32(L.vMax, P);
    this.permutation = arena.i32(L.permutation, opts.train.count);
    this.augmentCodes = opts.augment ? arena.u8(L.augmentCodes, opts.train.count) : new Uint8Array(0);
    this.predictions = arena.i32(L.predictions, opts.test.count);
    const testIndices = arena.i32(L.testIndices, opts.test.count);
    for (let i = 0; i < opts.test.count; i++) testIndices[i] = i;
    const adapt = opts.adaptThreads ?? process.env.ADAM_TRAINER_FIXED_THREADS !== '1';
    this.governor = adapt && W > 1 ? new ThreadGovernor(W, opts.governor) : null;
    // What other programs hold, so the governor does not give up a thread for an editor's bursts (governor.ts).
    // This process's other runs count as other programs: their threads' time in chunks (trainingMs).
    this.load = this.governor && opts.watchLoad !== false ? new LoadMeter(500, () => processTrainingMs - this.trainingMs) : null;
    Atomics.store(this.ctrl, CTRL.activeThreads, W);
    this.batchSize = opts.batchSize;
    this.ensureScratch(opts.batchSize);
    const firstTask = (opts.firstTask ?? 0) | 0;
    this.nextTask = firstTask;
    Atomics.store(this.ctrl, CTRL.claimed, firstTask);
    Atomics.store(this.ctrl, CTRL.completed, firstTask);
    this.setHyper(opts.hyper);
    // The initial configuration is active before any step; it is not an edit.
    this.active.set(this.pending);
    this.hyperStaged = false;
  }

  static async start(opts: EngineOptions): Promise<ParallelEngine> {
    const engine = new ParallelEngine(opts);
    await engine.spawn(opts.spinIterations ?? 20000);
    return engine;
  }

  private async spawn(spinIterations: number): Promise<void> {
    const script = workerScriptPath();
    const ready: Array<Promise<void>> = [];
    for (let index = 0; index < this.layout.workers; index++) {
      const w = new Worker(script, {
        workerData: { index, memory: this.opts.arena.memory, module: this.opts.module, layout: this.layout, spinIterations, stall: this.opts.stall, rescueAfterShards: this.opts.rescueAfterShards ?? RESCUE_AFTER_SHARDS },
        // The worker needs no command-line flags of ours (and refuses V8 flags in execArgv).
        execArgv: [],
        resourceLimits: { stackSizeMb: 8 },
      });
      this.threads.push(w);
      ready.push(new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker ${index} exited with code ${code} while starting`)));
      }));
      w.on('error', (e) => this.fail(new UserError('worker_failed', `worker ${index} failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (this.closed) return;
        // A worker that failed marks itself before it dies and the others leave on its abort: their exits
        // can arrive before its 'error' event, which is the one that says why.
        const failed = Atomics.load(this.ctrl, CTRL.failedWorker);
        if (failed !== 0 && failed !== index + 1) return;
        this.fail(new UserError('worker_failed', `worker ${index} exited unexpectedly (code ${code})`));
      });
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    Atomics.store(this.ctrl, CTRL.abort, 1);
    for (const slot of [CTRL.completed, CTRL.chunkDone, CTRL.evalCompleted, CTRL.commandWord]) Atomics.notify(this.ctrl, slot);
  }

  /** The rescue's regions (layout.ts rescueRegions), when a chunk first rescues: the shards' buffers in order in the
   *  table, every buffer free. After everything else, so that a run that never rescues keeps its memory as it was. */
  private allocateRescue(): void {
    const L = this.layout;
    const R = rescueRegions(0, L);
    const base = this.opts.arena.alloc(R.bytes);
    const at = rescueRegions(base, L);
    const table = this.opts.arena.i32(at.gradTable, L.maxShards);
    for (let k = 0; k < L.maxShards; k++) table[k] = L.grads + k * L.gradStrideBytes;
    this.shardDone = this.opts.arena.i32(at.shardDone, L.maxShards * LINE_WORDS);
    this.shardRescue = this.opts.arena.i32(at.shardRescue, L.maxShards * LINE_WORDS);
    Atomics.store(this.ctrl, CTRL.rescueBase, base);
  }

  /** Scratch big enough for a worker's shard of a batch (and for an evaluation task, EVAL_TASK_IMAGES images). */
  private ensureScratch(batchSize: number): void {
    const capacity = Math.max(32, Math.ceil(batchSize / this.layout.workers));
    if (capacity <= Atomics.load(this.ctrl, CTRL.scratchCapacity)) return;
    const bytes = this.opts.scratchBytes(capacity) + (this.opts.augment ? stagingBytes(capacity) : 0);
    for (let k = 0; k < this.layout.workers; k++) this.scratchTable[k] = this.opts.arena.alloc(bytes);
    Atomics.store(this.ctrl, CTRL.scratchCapacity, capacity);
  }

  /** Stages hyperparameters between chunks; the next chunk's first step uses them (they are copied in as it starts). */
  setHyper(h: OptimizerHyperparameters): void {
    if (this.busy) throw new Error('hyperparameters change between chunks, not during one');
    this.hyperStaged = true;
    this.pending[HYPER.learningRate] = h.learningRate;
    this.pending[HYPER.beta1] = h.beta1;
    this.pending[HYPER.beta2] = h.beta2;
    this.pending[HYPER.epsilon] = h.epsilon;
    this.pending[HYPER.weightDecay] = h.weightDecay;
    this.pending[HYPER.momentum] = h.momentum;
    this.pending[HYPER.optimizer] = OPTIMIZERS.indexOf(h.optimizer);
    this.pending[HYPER.alpha] = h.alpha;
    this.pending[HYPER.biasCorrection] = h.biasCorrection ? 1 : 0;
    this.pending[HYPER.nesterov] = h.nesterov ? 1 : 0;
  }

  private maxShardsPerWorker = MAX_SHARDS_PER_WORKER;

  /**
   * Cuts the next chunks' steps into at most `n` shards per worker (1..MAX_SHARDS_PER_WORKER; the default is the
   * most). For bench/shards.ts, which times chunks cut both ways in turn; the numbers are those of the shard count.
   */
  setMaxShardsPerWorker(n: number): void {
    if (!(Number.isInteger(n) && n >= 1 && n <= MAX_SHARDS_PER_WORKER)) throw new Error(`shards per worker must be an integer in 1..${MAX_SHARDS_PER_WORKER}, got ${n}`);
    this.maxShardsPerWorker = n;
  }

  /** Changes the batch size between chunks (buffers re-sized here, never inside a step). */
  setBatchSize(batchSize: number): void {
    this.ensureScratch(batchSize);
    if (batchSize !== this.batchSize) this.governor?.reset();
    this.batchSize = batchSize;
  }

  /** The threads that train now (all workers unless the governor found fewer faster on this machine). */
  get activeThreads(): number {
    return this.governor?.settled ?? this.layout.workers;
  }

  private commandSeq = 0;

  /** Issues a command and waits (without blocking the event loop) until `finished()` says it is done. */
  private async command(command: number, finished: () => { slot: number; value: number } | null): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('engine closed');
    if (this.busy) throw new Error('engine busy: one command at a time');
    this.busy = true;
    try {
      const c = this.ctrl;
      this.commandSeq = (this.commandSeq + 1) & 0x1fffffff;
      Atomics.store(c, CTRL.commandWord, (this.commandSeq << 2) | command);
      Atomics.notify(c, CTRL.commandWord);
      for (;;) {
        if (this.failure) throw this.failure;
        const wait = finished();
        if (!wait) break;
        const r = Atomics.waitAsync(c, wait.slot, wait.value, 1000);
        if (r.async) {
          await r.value;
          this.wakeups++;
        }
      }
      if (this.failure) throw this.failure;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Trains `steps` steps on the permutation starting at `cursor`, with Adam's t starting at startStep + 1.
   * The caller keeps the chunk inside one epoch. Hyperparameters staged since the last chunk take effect at its
   * first step. `learningRateAt(k)`, when given, is the lr of optimizer step k (0-based; a schedule's), else every
   * step uses the hyperparameters' learningRate.
   */
  async train(startStep: number, cursor: number, steps: number, learningRateAt?: (k: number) => number): Promise<ChunkResult> {
    if (steps < 1 || steps > MAX_CHUNK_STEPS) throw new Error(`chunk of ${steps} steps`);
    if (cursor + steps * this.batchSize > this.layout.trainCount) throw new Error('chunk runs past the epoch');
    const c = this.ctrl;
    const W = this.layout.workers;
    let appliedAtStep: number | null = null;
    const first = this.nextTask;
    const S = shardsPerStep(this.batchSize, W, this.maxShardsPerWorker);
    // Task numbers are int32 words in shared memory, and wrap after 2^31 tasks (about 30 hours at batch 4): every
    // comparison of two is by their difference, as an int32.
    const end = (first + steps * (S + W)) | 0;
    this.nextTask = end;
    // A thread the OS left behind may be reading the last chunk's parameters right now: it reads them under this
    // seqlock and retries, so it sees one chunk's values, never a mix.
    Atomics.add(c, CTRL.chunkVersion, 1);
    if (this.hyperStaged) {
      this.active.set(this.pending);
      this.hyperStaged = false;
      appliedAtStep = startStep + 1;
    }
    for (let s = 0; s < steps; s++) this.stepLearningRate[s] = learningRateAt ? learningRateAt(startStep + s) : this.active[HYPER.learningRate];
    Atomics.store(c, CTRL.chunkSteps, steps);
    Atomics.store(c, CTRL.chunkStartStep, startStep);
    Atomics.store(c, CTRL.chunkCursor, cursor);
    Atomics.store(c, CTRL.batchSize, this.batchSize);
    Atomics.store(c, CTRL.chunkShards, S);
    Atomics.store(c, CTRL.chunkFirstTask, first);
    // No shard task of this chunk is done or taken on yet; set afresh each chunk, so that the int32 task numbers these
    // words hold are never 2^31 stale. (A thread still computing a task of an earlier chunk finds it done.)
    const rescue = W > 1 && (typeof this.opts.rescue === 'function' ? this.opts.rescue(this.chunks) : this.opts.rescue ?? (this.othersBusy !== undefined && this.othersBusy >= RESCUE_LOAD));
    if (rescue && this.shardDone.length === 0) this.allocateRescue();
    for (let k = 0; k < this.shardDone.length; k += LINE_WORDS) {
      this.shardDone[k] = (first - 1) | 0;
      this.shardRescue[k] = (first - 1) | 0;
    }
    Atomics.store(c, CTRL.chunkEndTask, end);
    Atomics.store(c, CTRL.rescueMode, rescue ? 1 : 0);
    this.chunks++;
    if (rescue) this.rescueChunks++;
    Atomics.add(c, CTRL.chunkVersion, 1);
    const threads = this.governor?.next() ?? W;
    Atomics.store(c, CTRL.activeThreads, threads);
    const t0 = performance.now();
    // The main thread sleeps until the chunk's last task is done (CTRL.chunkDone), not through every phase of every
    // step: woken at each phase, it took 1.6 event-loop turns a step, thousands a second at batch 4, each one a
    // thread switch on a core the workers want.
    await this.command(COMMAND.train, () => {
      const done = Atomics.load(c, CTRL.chunkDone); // read before `completed`: a bump in between ends the wait at once
      return ((Atomics.load(c, CTRL.completed) - end) | 0) >= 0 ? null : { slot: CTRL.chunkDone, value: done };
    });
    const chunkMs = performance.now() - t0;
    this.trainingMs += threads * chunkMs;
    processTrainingMs += threads * chunkMs;
    if (this.governor) {
      this.governor.report(threads, steps, chunkMs / 1000);
      const load = this.load?.read();
      if (load !== undefined) {
        this.governor.setLoad(load);
        this.othersBusy = load;
      }
    }
    // Each step's loss: the shards' sums in shard order, whichever thread computed them (the same numbers for
    // the same worker count).
    const B = this.batchSize;
    for (let s = 0; s < steps; s++) {
      let loss = 0;
      let correct = 0;
      for (let k = 0; k < S; k++) {
        loss += this.shardLoss[s * S + k];
        correct += this.shardCorrect[s * S + k];
      }
      this.stepLoss[s] = loss / B;
      this.stepCorrect[s] = correct;
    }
    return { steps, losses: this.stepLoss.subarray(0, steps), correct: this.stepCorrect.subarray(0, steps), appliedAtStep };
  }

  /** Evaluates the first `count` test images (all by default); predictions land in this.predictions. */
  async evaluate(count = this.layout.testCount): Promise<{ lossSum: number; predictions: Int32Array }> {
    // Tasks of EVAL_TASK_IMAGES that any thread takes (a thread another program holds off its core holds one task, not
    // a worker's share). The count is stored before the counters are reset: a thread that claims after the reset
    // reads this evaluation's count.
    const c = this.ctrl;
    const tasks = evalTasks(count);
    Atomics.store(c, CTRL.evalCount, count);
    Atomics.store(c, CTRL.evalCompleted, 0);
    Atomics.store(c, CTRL.evalClaimed, 0);
    await this.command(COMMAND.evaluate, () => {
      const completed = Atomics.load(c, CTRL.evalCompleted);
      return completed >= tasks ? null : { slot: CTRL.evalCompleted, value: completed };
    });
    let lossSum = 0;
    for (let t = 0; t < tasks; t++) lossSum += this.results[t];
    return { lossSum, predictions: this.predictions.subarray(0, count) };
  }

  get currentBatchSize(): number {
    return this.batchSize;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.commandSeq = (this.commandSeq + 1) & 0x1fffffff;
    Atomics.store(this.ctrl, CTRL.commandWord, (this.commandSeq << 2) | COMMAND.exit);
    Atomics.store(this.ctrl, CTRL.abort, 1);
    for (const slot of [CTRL.completed, CTRL.chunkDone, CTRL.evalCompleted, CTRL.commandWord]) Atomics.notify(this.ctrl, slot);
    await Promise.all(this.threads.map((w) => w.terminate()));
  }

  /** Shard tasks a waiting thread took on, won or lost (a lost one was work done twice), since the engine started. */
  get rescuesTaken(): number {
    return Atomics.load(this.ctrl, CTRL.rescuesTaken);
  }

  /** Shard tasks a thread won for another that held them (worker.ts rescue), since the engine started. */
  get rescues(): number {
    return Atomics.load(this.ctrl, CTRL.rescued);
  }

  /** Training tasks completed since the engine started (tests: how finely a step was cut). */
  get tasksCompleted(): number {
    return Atomics.load(this.ctrl, CTRL.completed);
  }

  /** Training tasks claimed since the engine started (tests: a thread claims a task only once its phase has begun). */
  get tasksClaimed(): number {
    return Atomics.load(this.ctrl, CTRL.claimed);
  }

  /** Thread ids, for tests that kill a real worker. */
  get workerThreads(): readonly Worker[] {
    return this.threads;
  }
}

