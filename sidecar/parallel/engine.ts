// The parallel engine, main-thread side. It owns the worker threads and the shared layout, and runs
// training in chunks: it writes the chunk (first step, data cursor, batch size) into a chunk slot, posts its
// tasks, wakes the workers, and awaits their completion without blocking the event loop (Atomics.waitAsync), so
// the sidecar keeps serving its sockets while the workers train. A second chunk may be posted while one trains:
// the threads go on to it without waiting for the main thread (which wakes, reads results and sends metrics in
// the meantime). When no chunk is posted the run is quiescent: that is where evaluation, checkpoints, hyperparameter
// and batch-size changes happen. A chunk can leave a snapshot of the optimizer's state after its last step, for
// the statistics the main thread computes while the next chunk trains.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';
import { PARAMETER_COUNT } from '../nn/spec';
import type { ArenaAllocator } from './arena';
import { CHUNK, CHUNK_SLOTS, CTRL, COMMAND, HYPER, MAX_CHUNK_STEPS, MAX_SHARDS_PER_WORKER, shardsPerStep, stagingBytes, type EngineLayout } from './layout';
import type { OptimizerState } from '../optim/stats';
import { OPTIMIZERS, type OptimizerHyperparameters } from '../optim/hyperparameters';
import { ThreadGovernor, type GovernorOptions } from './governor';

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
}

export interface ChunkResult {
  steps: number;
  losses: Float64Array; // view, valid until the chunk after the next one is posted
  correct: Int32Array;
  appliedAtStep: number | null; // set when staged hyperparameters took effect in this chunk (at its first step)
  /** The seconds the threads spent on this chunk: from its post, or the end of the chunk before it if later, to its end. */
  seconds: number;
  /** The seconds the threads waited for this chunk after the one before it ended (0 when it was posted before that). */
  waited: number;
  /** The optimizer's state after the chunk's last step, when asked for (views valid until the chunk after the next one is posted). */
  snapshot: OptimizerState | null;
}

interface Posted {
  slot: number;
  end: number;
  postedAt: number;
  threads: number;
  probe: boolean;
}

/** Milliseconds since the epoch, from the high-resolution clock (comparable between threads). */
const nowMs = () => performance.timeOrigin + performance.now();

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
  /** Hyperparameters staged by setHyper, and those the last posted chunk uses. */
  private readonly pending = new Float64Array(HYPER.size);
  private readonly active = new Float64Array(HYPER.size);
  private readonly results: Float64Array;
  private readonly slots: Array<{
    descriptor: Int32Array;
    hyper: Float64Array;
    completedAt: Float64Array;
    shardLoss: Float64Array;
    shardCorrect: Int32Array;
    stepLearningRate: Float64Array;
    stepLoss: Float64Array;
    stepCorrect: Int32Array;
    snapshot: OptimizerState;
  }> = [];
  private readonly scratchTable: Int32Array;
  private readonly threads: Worker[] = [];
  private failure: Error | null = null;
  private busy = false;
  /** Chunks posted and not yet done, oldest first (at most CHUNK_SLOTS). */
  private readonly posted: Posted[] = [];
  private chunksPosted = 0;
  /** When the last chunk to finish finished (ms since the epoch): the next one's threads start then at the earliest. */
  private lastCompletedAt = 0;
  private closed = false;
  private batchSize: number;
  /** setHyper was called since the last chunk: the next chunk's first step takes the new values. */
  private hyperStaged = false;
  private nextTask = 0;
  /** Times the main thread was woken while it waited for the workers (tests: a chunk wakes it once, not every step). */
  wakeups = 0;
  private readonly governor: ThreadGovernor | null;

  private constructor(private readonly opts: EngineOptions) {
    const { arena, workers: W } = opts;
    const P = PARAMETER_COUNT;
    const padded = Math.ceil(P / 16) * 16;
    const a = (bytes: number) => arena.alloc(bytes);
    const S = W === 1 ? 1 : W * MAX_SHARDS_PER_WORKER;
    const L: EngineLayout = {
      workers: W,
      parameterCount: P,
      control: a(CTRL.size * 4),
      results: a(W * 2 * 8),
      maxShards: S,
      chunks: a(CHUNK_SLOTS * CHUNK.size * 4),
      chunkHyper: a(CHUNK_SLOTS * HYPER.size * 8),
      completedAt: a(CHUNK_SLOTS * 8),
      shardLoss: a(CHUNK_SLOTS * MAX_CHUNK_STEPS * S * 8),
      shardCorrect: a(CHUNK_SLOTS * MAX_CHUNK_STEPS * S * 4),
      stepLearningRate: a(CHUNK_SLOTS * MAX_CHUNK_STEPS * 8),
      snapshot: a(CHUNK_SLOTS * 4 * padded * 4),
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
    this.results = arena.f64(L.results, W * 2);
    for (let k = 0; k < CHUNK_SLOTS; k++) {
      const snapshot = (j: number) => arena.f32(L.snapshot + (k * 4 + j) * L.gradStrideBytes, P);
      this.slots.push({
        descriptor: arena.i32(L.chunks + k * CHUNK.size * 4, CHUNK.size),
        hyper: arena.f64(L.chunkHyper + k * HYPER.size * 8, HYPER.size),
        completedAt: arena.f64(L.completedAt + k * 8, 1),
        shardLoss: arena.f64(L.shardLoss + k * MAX_CHUNK_STEPS * S * 8, MAX_CHUNK_STEPS * S),
        shardCorrect: arena.i32(L.shardCorrect + k * MAX_CHUNK_STEPS * S * 4, MAX_CHUNK_STEPS * S),
        stepLearningRate: arena.f64(L.stepLearningRate + k * MAX_CHUNK_STEPS * 8, MAX_CHUNK_STEPS),
        stepLoss: new Float64Array(MAX_CHUNK_STEPS),
        stepCorrect: new Int32Array(MAX_CHUNK_STEPS),
        snapshot: { params: snapshot(0), m: snapshot(1), v: snapshot(2), vMax: snapshot(3) },
      });
    }
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
    this.batchSize = opts.batchSize;
    this.ensureScratch(opts.batchSize);
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
        workerData: { index, memory: this.opts.arena.memory, module: this.opts.module, layout: this.layout, spinIterations },
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
    for (const slot of [CTRL.completed, CTRL.chunkDone, CTRL.done, CTRL.commandWord]) Atomics.notify(this.ctrl, slot);
  }

  /** No chunk is posted: the parameters and the optimizer's state in shared memory hold still. */
  get idle(): boolean {
    return this.posted.length === 0;
  }

  /** Chunks posted and not done yet. */
  get inFlight(): number {
    return this.posted.length;
  }

  private assertIdle(what: string): void {
    if (!this.idle) throw new Error(`${what} between chunks, not while one is posted`);
  }

  /** Scratch big enough for a shard of a batch (and for evaluation slices). */
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
    this.assertIdle('hyperparameters change');
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

  /** Changes the batch size between chunks (buffers re-sized here, never inside a step). */
  setBatchSize(batchSize: number): void {
    this.assertIdle('the batch size changes');
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
      Atomics.store(c, CTRL.done, 0);
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
   * step uses the hyperparameters' learningRate. One more chunk may be posted while this one trains (it continues
   * where this one ends, and the threads take it up as soon as this one is done); the results come in order.
   * `snapshot`: keep the optimizer's state after the chunk's last step (ChunkResult.snapshot).
   */
  train(startStep: number, cursor: number, steps: number, learningRateAt?: (k: number) => number, snapshot = false): Promise<ChunkResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('engine closed'));
    if (this.busy) return Promise.reject(new Error('engine busy: evaluating'));
    if (this.posted.length >= CHUNK_SLOTS) return Promise.reject(new Error(`at most ${CHUNK_SLOTS} chunks posted at once`));
    if (steps < 1 || steps > MAX_CHUNK_STEPS) return Promise.reject(new Error(`chunk of ${steps} steps`));
    if (cursor + steps * this.batchSize > this.layout.trainCount) return Promise.reject(new Error('chunk runs past the epoch'));
    const c = this.ctrl;
    const W = this.layout.workers;
    const S = shardsPerStep(this.batchSize, W);
    let appliedAtStep: number | null = null;
    const first = this.nextTask;
    const end = first + steps * 2 * S;
    this.nextTask = end;
    if (this.hyperStaged) {
      this.active.set(this.pending);
      this.hyperStaged = false;
      appliedAtStep = startStep + 1;
    }
    const threads = this.governor?.next() ?? W;
    const probe = this.governor?.probing ?? false;
    // The slot's last chunk is done and its results read (at most CHUNK_SLOTS are posted, and they end in order):
    // no thread reads this slot until `posted` covers the new chunk's tasks. A thread the OS left behind with the old
    // descriptor finds its tasks gone (claimed only grows) and reads the slot again, under its seqlock.
    const slot = this.chunksPosted++ % CHUNK_SLOTS;
    const k = this.slots[slot];
    const d = k.descriptor;
    Atomics.add(d, CHUNK.version, 1);
    for (let s = 0; s < steps; s++) k.stepLearningRate[s] = learningRateAt ? learningRateAt(startStep + s) : this.active[HYPER.learningRate];
    k.hyper.set(this.active);
    Atomics.store(d, CHUNK.first, first);
    Atomics.store(d, CHUNK.end, end);
    Atomics.store(d, CHUNK.steps, steps);
    Atomics.store(d, CHUNK.startStep, startStep);
    Atomics.store(d, CHUNK.cursor, cursor);
    Atomics.store(d, CHUNK.batchSize, this.batchSize);
    Atomics.store(d, CHUNK.shards, S);
    Atomics.store(d, CHUNK.threads, threads);
    Atomics.store(d, CHUNK.snapshot, snapshot ? 1 : 0);
    Atomics.store(d, CHUNK.finished, first);
    Atomics.add(d, CHUNK.version, 1);
    Atomics.store(c, CTRL.posted, end);
    const posted: Posted = { slot, end, postedAt: nowMs(), threads, probe };
    this.posted.push(posted);
    this.commandSeq = (this.commandSeq + 1) & 0x1fffffff;
    Atomics.store(c, CTRL.commandWord, (this.commandSeq << 2) | COMMAND.train);
    Atomics.notify(c, CTRL.commandWord);
    // Chunks end in order; their results are read in order too (each one's time starts where the one before ended).
    const result = this.finish(this.tail, posted, steps, S, appliedAtStep, snapshot);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private tail: Promise<unknown> = Promise.resolve();

  private async finish(before: Promise<unknown>, p: Posted, steps: number, S: number, appliedAtStep: number | null, snapshot: boolean): Promise<ChunkResult> {
    const c = this.ctrl;
    const k = this.slots[p.slot];
    try {
      await before;
      // The main thread sleeps until the chunk's last task is done (its slot's `finished`, announced on
      // CTRL.chunkDone), not through every phase of every step: woken at each phase, it took 1.6 event-loop turns a
      // step, thousands a second at batch 4, each one a thread switch on a core the workers want.
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.closed) throw new Error('engine closed');
        const done = Atomics.load(c, CTRL.chunkDone); // read before `finished`: a bump in between ends the wait at once
        if (Atomics.load(k.descriptor, CHUNK.finished) === p.end) break;
        const r = Atomics.waitAsync(c, CTRL.chunkDone, done, 1000);
        if (r.async) {
          await r.value;
          this.wakeups++;
        }
      }
    } finally {
      this.posted.splice(this.posted.indexOf(p), 1);
    }
    const completedAt = k.completedAt[0];
    const seconds = Math.max(1e-6, (completedAt - Math.max(p.postedAt, this.lastCompletedAt)) / 1000);
    const waited = this.lastCompletedAt > 0 ? Math.max(0, p.postedAt - this.lastCompletedAt) / 1000 : 0;
    this.lastCompletedAt = completedAt;
    this.governor?.report(p.threads, steps, seconds, p.probe);
    // Each step's loss: the shards' sums in shard order, whichever thread computed them (the same numbers for
    // the same batch size and worker count).
    const B = Atomics.load(k.descriptor, CHUNK.batchSize);
    for (let s = 0; s < steps; s++) {
      let loss = 0;
      let correct = 0;
      for (let j = 0; j < S; j++) {
        loss += k.shardLoss[s * S + j];
        correct += k.shardCorrect[s * S + j];
      }
      k.stepLoss[s] = loss / B;
      k.stepCorrect[s] = correct;
    }
    return { steps, losses: k.stepLoss.subarray(0, steps), correct: k.stepCorrect.subarray(0, steps), appliedAtStep, seconds, waited, snapshot: snapshot ? k.snapshot : null };
  }

  /** Evaluates the first `count` test images (all by default); predictions land in this.predictions. */
  async evaluate(count = this.layout.testCount): Promise<{ lossSum: number; predictions: Int32Array }> {
    this.assertIdle('evaluation runs');
    Atomics.store(this.ctrl, CTRL.evalCount, count);
    const W = this.layout.workers;
    await this.command(COMMAND.evaluate, () => {
      const done = Atomics.load(this.ctrl, CTRL.done);
      return done >= W ? null : { slot: CTRL.done, value: done };
    });
    let lossSum = 0;
    for (let k = 0; k < this.layout.workers; k++) lossSum += this.results[k * 2];
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
    for (const slot of [CTRL.completed, CTRL.chunkDone, CTRL.done, CTRL.commandWord]) Atomics.notify(this.ctrl, slot);
    await Promise.all(this.threads.map((w) => w.terminate()));
  }

  /** Thread ids, for tests that kill a real worker. */
  get workerThreads(): readonly Worker[] {
    return this.threads;
  }
}

