// A training session: the dataset in shared memory, the parallel engine, and the bookkeeping of a run that
// must survive a checkpoint: the step count, the epoch and data cursor, the data-order RNG and this epoch's
// permutation. The trainer (trainer.ts) drives it chunk by chunk; check-reference drives it on given data.
import type { LiveWeights } from './runControl';
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { UserError } from './errors';
import { resolveDataset, type Dataset, type Progress } from './data';
import { datasetPool, type DatasetLease } from './data/pool';
import { compileKernels, instantiateKernels, relaxedSimdSupported } from './kernels/loader';
import { initParameters } from './nn/init';
import { CLASS_NAMES, NUM_CLASSES } from './nn/spec';
import { variantError } from './optim/hyperparameters';
import { optimizerStats } from './optim/stats';
import { stepHistograms, type StepCounts } from './optim/stepHistogram';
import { WasmStepHistograms } from './kernels/stepHistograms';
import { checkSchedule, learningRateAt, learningRateAt as scheduledLearningRate, plannedSteps } from './optim/schedule';
import { SharedArena, type ArenaScope } from './parallel/arena';
import { ParallelEngine, type ChunkResult, type EngineOptions } from './parallel/engine';
import { MAX_CHUNK_STEPS } from './parallel/layout';
import { LIVE_HYPERPARAMETERS, SCHEDULE_FIELDS, type LiveHyperparameters, type OptimizerStats, type RunConfig } from './protocol';
import { Rng } from './rng';
import { drawAugmentation } from './data/augment';
import type { TrainingState } from './store/state';

export type EngineKind = 'wasm' | 'reference';

export interface SessionOptions {
  config: RunConfig;
  cacheDir: string;
  resume?: TrainingState;
  engine?: EngineKind;
  notice?: (line: string) => void;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Tests and check-reference: build the dataset in an arena of its own (not shared with other runs). */
  dataset?: (arena: SharedArena) => Dataset;
  downloadUrl?: string;
  /** How the engine picks its training threads (tests: a governor that switches every chunk). */
  threads?: Pick<EngineOptions, 'adaptThreads' | 'governor' | 'watchLoad' | 'firstTask' | 'stall' | 'rescue' | 'rescueAfterShards'>;
}

export interface EvalResult {
  testLoss: number;
  testAccuracy: number;
  perClassAccuracy: number[];
  classNames: string[];
  confusion: number[][];
}

export interface TrainedChunk extends ChunkResult {
  firstStep: number; // the step number (1-based) of losses[0]
  batchSize: number;
  epochEnded: boolean; // this chunk finished an epoch (the cursor moved to the next one)
}

export function defaultWorkers(): number {
  return Math.max(1, cpus().length);
}

let compiled: { relaxed: WebAssembly.Module | null; plain: WebAssembly.Module | null } | null = null;
function kernelModule(engine: EngineKind): WebAssembly.Module | null {
  if (engine === 'reference') return null;
  if (!compiled) {
    const relaxed = relaxedSimdSupported();
    compiled = { relaxed: relaxed ? compileKernels(true) : null, plain: relaxed ? null : compileKernels(false) };
  }
  return compiled.relaxed ?? compiled.plain;
}

export class TrainingSession {
  config: RunConfig;
  step: number;
  epoch: number;
  cursor: number;
  private rng: Rng;
  /** flip-crop: the seed of this epoch's augmentation codes (data/augment.ts), drawn from rng after the permutation. */
  private augmentSeed: number | undefined;
  readonly datasetSource: string;
  readonly datasetId: string;

  private constructor(
    readonly engine: ParallelEngine,
    readonly dataset: Dataset,
    readonly arena: SharedArena,
    private readonly held: { lease: DatasetLease; scope: ArenaScope },
    config: RunConfig,
    resume: TrainingState | undefined,
  ) {
    this.config = { ...config };
    // "Over the run": a schedule is planned over the run's length as it starts (schedule.ts plannedSteps), recorded
    // in the configuration so that a resume, or a later --epochs, follows the same lr.
    if (this.config.scheduleSteps === 0) {
      this.config.scheduleSteps = plannedSteps(config.epochs, config.maxSteps, dataset.train.count, config.batchSize);
    }
    checkSchedule(this.config);
    this.datasetSource = dataset.source;
    this.datasetId = `${dataset.train.count}/${dataset.test.count}`;
    if (resume) {
      if (resume.permutation.length !== dataset.train.count) {
        throw new UserError('bad_checkpoint', `the checkpoint was trained on ${resume.permutation.length} training images, this dataset has ${dataset.train.count}; resume with the same --data`);
      }
      if (resume.datasetId !== undefined && resume.datasetId !== this.datasetId) {
        throw new UserError('bad_checkpoint', `the checkpoint was trained on ${resume.datasetId} (training/test images), this dataset has ${this.datasetId}; resume with the same --data`);
      }
      engine.params.set(resume.params);
      engine.m.set(resume.m);
      engine.v.set(resume.v);
      engine.vMax.set(resume.vMax);
      engine.permutation.set(resume.permutation);
      this.rng = Rng.fromState(resume.rng);
      if (config.augment !== 'none') {
        if (resume.augmentSeed === undefined) throw new UserError('bad_checkpoint', `the checkpoint holds no augmentation seed for augment ${config.augment}`);
        this.augmentSeed = resume.augmentSeed;
        drawAugmentation(this.augmentSeed, engine.augmentCodes);
      }
      this.step = resume.step;
      this.epoch = resume.epoch;
      this.cursor = resume.cursor;
      if (this.stepsLeftInEpoch === 0) this.nextEpoch();
    } else {
      initParameters(engine.params, config.seed);
      this.rng = new Rng(config.seed);
      this.rng.permutation(engine.permutation);
      this.drawAugmentation();
      this.step = 0;
      this.epoch = 0;
      this.cursor = 0;
    }
  }

  static async create(opts: SessionOptions): Promise<TrainingSession> {
    const { config } = opts;
    const variant = variantError(config);
    if (variant) throw new UserError('bad_config', variant);
    const engineKind = opts.engine ?? 'wasm';
    const module = kernelModule(engineKind);
    const lease = await acquireDataset(opts);
    // The engine's regions go above the dataset in the same memory, and go back when the session closes.
    const scope = lease.arena.scope();
    const { arena, dataset } = lease;
    let engine: ParallelEngine | null = null;
    try {
      if (dataset.train.count < config.batchSize) {
        throw new UserError('bad_config', `batchSize ${config.batchSize} is larger than the training set (${dataset.train.count} images)`);
      }
      const kernels = module ? instantiateKernels(module, arena.memory) : null;
      const scratchBytes = kernels ? kernels.scratchBytes : () => 64;
      engine = await ParallelEngine.start({
        arena: scope,
        workers: config.workers,
        module,
        scratchBytes: (c) => scratchBytes(c),
        train: dataset.train,
        test: dataset.test,
        batchSize: config.batchSize,
        hyper: config,
        ...opts.threads,
        augment: config.augment !== 'none',
      });
      const session = new TrainingSession(engine, dataset, arena, { lease, scope }, config, opts.resume);
      session.wasmStepHistograms = kernels ? new WasmStepHistograms(kernels, scope) : null;
      return session;
    } catch (e) {
      await engine?.close();
      scope.release();
      lease.release();
      throw e;
    }
  }

  /** Steps left in this epoch at the current batch size. */
  get stepsLeftInEpoch(): number {
    return Math.floor((this.dataset.train.count - this.cursor) / this.engine.currentBatchSize);
  }

  /** Fractional epoch for charts: epochs done plus the fraction of this one. */
  get epochProgress(): number {
    return this.epoch + this.cursor / this.dataset.train.count;
  }

  /**
   * Trains up to `maxSteps` steps without crossing the end of the epoch, each at its schedule's lr, or at
   * `learningRateAt(k)` for step k (0-based) when given (the lr range test's own exponential ramp).
   */
  async trainChunk(maxSteps: number, learningRateAt?: (k: number) => number): Promise<TrainedChunk> {
    const steps = Math.max(1, Math.min(maxSteps, MAX_CHUNK_STEPS, this.stepsLeftInEpoch));
    const firstStep = this.step + 1;
    const batchSize = this.engine.currentBatchSize;
    const c = this.config;
    const r = await this.engine.train(this.step, this.cursor, steps, learningRateAt ?? ((k) => scheduledLearningRate(c, k)));
    this.step += steps;
    this.cursor += steps * batchSize;
    let epochEnded = false;
    if (this.stepsLeftInEpoch === 0) {
      this.nextEpoch();
      epochEnded = true;
    }
    return { ...r, firstStep, batchSize, epochEnded };
  }

  // The incomplete last batch is dropped, as the seed's loop does (range(0, n - bs + 1, bs)).
  private nextEpoch(): void {
    this.epoch++;
    this.cursor = 0;
    this.rng.permutation(this.engine.permutation);
    this.drawAugmentation();
  }

  // After the permutation, from the same generator: a run without augmentation draws exactly what it drew before.
  private drawAugmentation(): void {
    if (this.config.augment === 'none') return;
    this.augmentSeed = this.rng.nextU32();
    drawAugmentation(this.augmentSeed, this.engine.augmentCodes);
  }

  /**
   * Stages live hyperparameter changes. Optimizer values reach the workers at their next step boundary;
   * a batch size change is applied here, between chunks. Returns what changed.
   */
  update(changes: LiveHyperparameters): Record<string, { from: number | string; to: number | string }> {
    const changed: Record<string, { from: number | string; to: number | string }> = {};
    const variant = variantError({ ...this.config, ...changes });
    if (variant) throw new UserError('bad_config', variant);
    const before = this.config;
    for (const key of [...LIVE_HYPERPARAMETERS, ...SCHEDULE_FIELDS]) {
      const to = changes[key];
      if (to === undefined || to === this.config[key]) continue;
      changed[key] = { from: this.config[key], to };
      this.config = { ...this.config, [key]: to };
    }
    if (SCHEDULE_FIELDS.some((k) => changed[k]) || (changed.learningRate && this.config.schedule !== 'constant')) {
      if (this.config.schedule === 'onecycle' && changed.learningRate) {
        this.config = before;
        throw new UserError('bad_config', 'under the onecycle schedule the lr follows maxLearningRate (as PyTorch\'s OneCycleLR ignores the optimizer\'s lr): edit maxLearningRate instead of learningRate');
      }
      try {
        checkSchedule(this.config);
      } catch (e) {
        this.config = before;
        throw e;
      }
    }
    if (changed.batchSize) {
      if (this.config.batchSize > this.dataset.train.count) throw new UserError('bad_config', `batchSize ${this.config.batchSize} is larger than the training set`);
      this.engine.setBatchSize(this.config.batchSize);
      // A larger batch near the end of an epoch may no longer fit in what is left of it: that rest is dropped too
      // (the engine would refuse to draw past the end of the permutation).
      if (this.stepsLeftInEpoch === 0) this.nextEpoch();
    }
    if (Object.keys(changed).some((k) => k !== 'batchSize')) this.engine.setHyper(this.config);
    return changed;
  }

  async evaluate(): Promise<EvalResult> {
    const n = this.dataset.test.count;
    const { lossSum, predictions } = await this.engine.evaluate(n);
    const confusion = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
    const labels = this.dataset.test.labels;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      confusion[labels[i]][predictions[i]]++;
      if (labels[i] === predictions[i]) correct++;
    }
    const perClassAccuracy = confusion.map((row, c) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total ? row[c] / total : 0;
    });
    return { testLoss: n ? lossSum / n : 0, testAccuracy: n ? correct / n : 0, perClassAccuracy, confusion, classNames: [...CLASS_NAMES] };
  }

  /**
   * Per layer, the RMS of the last update divided by the learning rate (Adam's trust region: about 1 or
   * less), and for Adam the RMS of m_hat, sqrt(v_hat) and the step, computed from the optimizer state.
   */
  optimizerStats(): { updateRatio: Record<string, number>; optimizer: OptimizerStats } {
    // A log line and a live metrics message often fall on the same step, between the same two chunks,
    // while the workers wait: compute once per step (and configuration, which an edit replaces).
    if (this.statsCache && this.statsCache.step === this.step && this.statsCache.config === this.config) return this.statsCache.stats;
    const stats = this.computeOptimizerStats();
    this.statsCache = { step: this.step, config: this.config, stats };
    return stats;
  }

  private statsCache: { step: number; config: RunConfig; stats: ReturnType<TrainingSession['computeOptimizerStats']> } | null = null;

  private computeOptimizerStats(): { updateRatio: Record<string, number>; optimizer: OptimizerStats } {
    return optimizerStats(this.engine, this.step, { ...this.config, learningRate: this.learningRateUsed });
  }

  /** The lr the last step used (the first step's before any): what `metrics.learningRate` reports. */
  get learningRateUsed(): number {
    return learningRateAt(this.config, Math.max(0, this.step - 1));
  }

  private wasmStepHistograms: WasmStepHistograms | null = null;

  /** What each parameter's step is, per layer (optim/stepHistogram.ts): through the kernel when the run has one. */
  stepHistograms(): StepCounts | null {
    // Under a schedule the step's lr is the schedule's, not config.learningRate.
    const h = { ...this.config, learningRate: this.learningRateUsed };
    return this.wasmStepHistograms ? this.wasmStepHistograms.compute(this.engine, this.step, h) : stepHistograms(this.engine, this.step, h);
  }

  /** Lowercase hex SHA-256 of the parameters' little-endian float32 bytes in state_dict order. */
  /** Threads training now (the engine's governor may use fewer than the workers; the numbers do not change). */
  get activeThreads(): number {
    return this.engine.activeThreads;
  }

  parametersSha256(): string {
    const copy = Float32Array.from(this.engine.params);
    return createHash('sha256').update(new Uint8Array(copy.buffer)).digest('hex');
  }

  /** A copy of the parameters with the test split, for predictions (read between chunks, while the workers wait). */
  weights(): LiveWeights {
    return { step: this.step, params: Float32Array.from(this.engine.params), test: this.dataset.test };
  }

  snapshot(runId: string, lossSum: number, lossCount: number, extra: Partial<TrainingState> = {}): TrainingState {
    return {
      runId,
      config: { ...this.config },
      step: this.step,
      epoch: this.epoch,
      cursor: this.cursor,
      rng: this.rng.state(),
      permutation: Uint32Array.from(this.engine.permutation),
      params: Float32Array.from(this.engine.params),
      m: Float32Array.from(this.engine.m),
      v: Float32Array.from(this.engine.v),
      vMax: Float32Array.from(this.engine.vMax),
      lossSum,
      lossCount,
      datasetId: this.datasetId,
      ...(this.augmentSeed !== undefined ? { augmentSeed: this.augmentSeed } : {}),
      ...extra,
    };
  }

  /** Stops the engine's threads, then gives its regions back and lets go of the dataset (freed with the last run). */
  async close(): Promise<void> {
    await this.engine.close();
    this.held.scope.release();
    this.held.lease.release();
  }
}

/** The run's dataset: one loaded copy per process for each dataset (data/pool.ts), or the caller's own. */
async function acquireDataset(opts: SessionOptions): Promise<DatasetLease> {
  if (opts.dataset) {
    const arena = new SharedArena();
    return { arena, dataset: opts.dataset(arena), release: () => undefined };
  }
  const resolved = await resolveDataset({
    data: opts.config.data,
    cacheDir: opts.cacheDir,
    notice: opts.notice,
    onProgress: opts.onProgress,
    signal: opts.signal,
    downloadUrl: opts.downloadUrl,
  });
  return datasetPool.acquire(resolved, { notice: opts.notice, onProgress: opts.onProgress, signal: opts.signal });
}

