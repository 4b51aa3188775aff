// A run: the training loop around a TrainingSession, shared by `adam-trainer train` and the sidecar's
// WebSocket runs. It trains in short chunks (a few tens of milliseconds), and between chunks it applies
// edits (liveEdits.ts), emits metrics (runMetrics.ts: at most 20 a second, mean/min/max so spikes survive),
// evaluates at epoch ends, writes checkpoints, and honours what its mailbox holds (runControl.ts: pause,
// resume, stop, halt, evaluate, checkpoint). Every step's loss goes to the run store.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { UserError, isUserError } from './errors';
import type { Progress } from './data';
import type { EvalMessage, LiveHyperparameters, PlanMessage, RunConfig, RunState, StateMessage } from './protocol';
import { isEnded, SCHEDULE_FIELDS } from './protocol';
import { LiveEdits, type EditRequest } from './liveEdits';
import { planPoints } from './optim/schedule';
import { RunControl, type LiveWeights } from './runControl';
import { RunMetrics } from './runMetrics';
import { StepHistogramRecorder, type HistogramOutput } from './stepHistogramRecorder';
import { TrainingSession, type EngineKind, type EvalResult } from './session';
import { writeCheckpointAtomic } from './store/checkpoint';
import type { RunStore } from './store/runs';
import type { TrainingState } from './store/state';


/**
 * A live metrics message at most every 200 ms: as often as the dashboard draws at most (webview/drawScheduler.ts,
 * 5 frames a second). Each one aggregates the steps since the last (mean, min and max of the loss), so nothing is
 * lost by sending fewer; at 50 ms, three of four messages were parsed, relayed (in VS Code from the sidecar through
 * the extension host to the webview) and checked without ever being drawn (issue 13, bench:watched --vscode).
 */
export const LIVE_METRICS_INTERVAL_MS = 200;

/** A chunk takes the steps up to the next log line or checkpoint when they are at most this many times its size. */
export const CHUNK_STRETCH = 1.5;

/**
 * The steps of the chunk after `step`, about `target` of them: a chunk never crosses a checkpoint, a log line or
 * --max-steps (each is written from the state at its step). A chunk that would end just short of such a boundary
 * would leave a sliver of a chunk after it (at batch 4, a log line every 100 steps and chunks of about 90 steps made
 * chunks of 90 and 10), and each chunk costs the workers a wait and the main thread a wakeup: so when the boundary is
 * at most CHUNK_STRETCH times the target away, the chunk runs to it.
 */
export function chunkSteps(step: number, target: number, c: Pick<RunConfig, 'checkpointEvery' | 'logEvery' | 'maxSteps'>): number {
  const n = Math.max(1, target);
  const toBoundary = Math.min(c.checkpointEvery - (step % c.checkpointEvery), c.logEvery - (step % c.logEvery));
  const steps = toBoundary <= Math.ceil(n * CHUNK_STRETCH) ? toBoundary : n;
  return c.maxSteps > 0 ? Math.min(steps, c.maxSteps - step) : steps;
}

export interface RunOptions {
  runId: string;
  config: RunConfig;
  cacheDir: string;
  store?: RunStore;
  checkpointDir?: string;
  resume?: TrainingState;
  parentRunId?: string;
  forkStep?: number;
  engine?: EngineKind;
  notice?: (line: string) => void;
  /** How often a live `metrics` message goes to whoever watches (LIVE_METRICS_INTERVAL_MS by default). */
  metricsIntervalMs?: number;
  chunkMs?: number;
  downloadUrl?: string;
}

export interface RunSummaryDone {
  steps: number;
  seconds: number;
  samplesPerSec: number;
  trainLoss: number;
  testAccuracy: number;
  parametersSha256: string;
}

/** The run's history records metrics at most this often (the live stream is 20 a second; losses.f32 has every step). */
const RECORD_INTERVAL_MS = 1000;

export class Run extends EventEmitter {
  readonly runId: string;
  state: RunState = 'idle';
  private session: TrainingSession | null = null;
  private endedAtStep: number | null = null;
  private readonly opts: RunOptions;
  private readonly edits = new LiveEdits();
  private readonly control = new RunControl();
  private readonly metrics: RunMetrics;
  private readonly stepHistograms: StepHistogramRecorder;
  private lastLiveEmit = 0;
  private lastEval: EvalResult | null = null;
  private lastEvalStep = -1;
  /** The last checkpoint write started (queueCheckpoint); never rejects. */
  private writes: Promise<unknown> = Promise.resolve();
  private stateReason: string | undefined;
  config: RunConfig;

  constructor(opts: RunOptions) {
    super();
    this.opts = opts;
    this.runId = opts.runId;
    this.config = { ...opts.config };
    this.metrics = new RunMetrics(opts.runId, opts.resume);
    this.stepHistograms = new StepHistogramRecorder(opts.runId);
  }

  get step(): number {
    return this.session?.step ?? this.endedAtStep ?? this.opts.resume?.step ?? 0;
  }

  get checkpointDir(): string | undefined {
    return this.opts.checkpointDir ?? (this.opts.store ? this.opts.store.dir(this.runId) : undefined);
  }

  // ---- control, from the command line or the WebSocket -------------------------------------------

  /** Stages a live edit; it is applied at the next step boundary and every request is answered (liveEdits.ts). */
  update(changes: LiveHyperparameters, request: EditRequest = {}): void {
    if (isEnded(this.state)) throw new UserError('bad_config', `run ${this.runId} has ended (${this.state}); fork it to train on with other values`);
    this.edits.stage(changes, request);
    this.poke();
  }

  pause(): void {
    if (this.state === 'running' || this.state === 'downloading' || this.state === 'idle') this.control.pause = true;
    this.poke();
  }

  resume(): void {
    this.control.pause = false;
    this.poke();
  }

  async stop(): Promise<void> {
    this.control.stop = true;
    this.poke();
    if (this.finished) await this.finished.catch(() => undefined);
  }

  /**
   * Ends the loop at the next step boundary after writing latest.ckpt, recording no state: the run still
   * reads as running, so the next sidecar (or the extension after a reload) resumes it. For shutdown.
   */
  async halt(): Promise<void> {
    this.control.halt = true;
    this.poke();
    if (this.finished) await this.finished.catch(() => undefined);
  }

  evaluate(): void {
    this.control.evaluate = true;
    this.poke();
  }

  /** Writes a step-<N>.ckpt (kept for forks) at the next step boundary; resolves with its path. */
  checkpoint(): Promise<string> {
    if (!this.checkpointDir) return Promise.reject(new UserError('bad_config', 'this run has no checkpoint folder'));
    if (isEnded(this.state) || !this.session) {
      return Promise.reject(new UserError('bad_config', `run ${this.runId} is not training (${this.state})`));
    }
    return new Promise((resolve) => {
      this.control.checkpoints.push(resolve);
      this.poke();
    });
  }

  /**
   * The parameters as of the next step boundary, copied between chunks as evaluation and checkpoints read them (never
   * while a step runs, never changing the run); null when the run is not training (loading, or ended).
   */
  weights(): Promise<LiveWeights | null> {
    if (isEnded(this.state) || !this.session || this.state === 'idle' || this.state === 'downloading') return Promise.resolve(null);
    return new Promise((resolve) => {
      this.control.weightReaders.push(resolve);
      this.poke();
    });
  }

  private serveWeightReaders(s: TrainingSession | null): void {
    if (!this.control.weightReaders.length) return;
    const weights = s ? s.weights() : null;
    for (const r of this.control.weightReaders.splice(0)) r(weights);
  }

  private poke(): void {
    this.control.poke();
  }


  private setState(state: RunState, reason?: string): void {
    this.state = state;
    this.stateReason = reason;
    const msg: StateMessage = { type: 'state', runId: this.runId, state, ...(reason ? { reason } : {}), step: this.step };
    this.opts.store?.appendEvent(this.runId, msg);
    this.emit('state', msg);
  }

  get reason(): string | undefined {
    return this.stateReason;
  }

  // ---- the loop ----------------------------------------------------------------------------------

  private finished: Promise<RunSummaryDone> | null = null;

  start(): Promise<RunSummaryDone> {
    if (!this.finished) this.finished = this.loop();
    return this.finished;
  }

  private async loop(): Promise<RunSummaryDone> {
    const cfg = this.config;
    try {
      this.setState(cfg.data === undefined ? 'downloading' : 'idle');
      this.session = await TrainingSession.create({
        config: this.opts.resume ? { ...cfg } : cfg,
        cacheDir: this.opts.cacheDir,
        resume: this.opts.resume,
        engine: this.opts.engine,
        notice: (line) => { this.opts.notice?.(line); this.emit('notice', line); },
        onProgress: (p: Progress) => this.emit('progress', p),
        downloadUrl: this.opts.downloadUrl,
      });
      if (this.checkpointDir) mkdirSync(this.checkpointDir, { recursive: true });
      this.emit('dataset', this.session.datasetSource);
      return await this.trainLoop(this.session);
    } catch (e) {
      const message = isUserError(e) ? e.message : `${(e as Error).message}`;
      if (this.session) await this.writeCheckpoint('latest.ckpt');
      this.setState('failed', message);
      throw e;
    } finally {
      this.serveWeightReaders(null);
      // The session holds the shared dataset's memory: an ended run keeps its step, not the session.
      const s = this.session;
      await this.writes; // every checkpoint taken is on disk before the run says it ended
      if (s) {
        this.endedAtStep = s.step;
        this.session = null;
        await s.close();
      }
    }
  }

  private async trainLoop(s: TrainingSession): Promise<RunSummaryDone> {
    const cfg = () => s.config;
    this.setState('running');
    this.emitPlan(s, s.step + 1);
    let stepsPerChunk = 8;
    const chunkMs = this.opts.chunkMs ?? 25;
    const intervalMs = this.opts.metricsIntervalMs ?? LIVE_METRICS_INTERVAL_MS;
    this.lastLiveEmit = performance.now();
    while (true) {
      this.applyEdits(s);
      this.serveWeightReaders(s);
      if (this.control.evaluate) { this.control.evaluate = false; await this.runEval(s); }
      while (this.control.checkpoints.length) {
        const path = await this.writeCheckpoint(`step-${s.step}.ckpt`);
        for (const r of this.control.checkpoints.splice(0)) r(path ?? '');
      }
      if (this.control.halt) {
        this.emitStepHistogram(this.stepHistograms.finish(s));
        await this.writeCheckpoint('latest.ckpt');
        this.emitLive(s, true);
        return this.summary(s);
      }
      if (this.control.stop) break;
      if (this.control.pause) {
        if (this.state !== 'paused') {
          this.emitStepHistogram(this.stepHistograms.finish(s));
          await this.writeCheckpoint('latest.ckpt');
          this.emitLive(s, true);
          this.setState('paused', this.stateReason);
        }
        // A listener of the 'paused' state may already have resumed or stopped the run.
        await this.control.whilePaused();
        continue;
      }
      if (this.state === 'paused') this.setState('running');
      if (s.epoch >= this.config.epochs || (this.config.maxSteps > 0 && s.step >= this.config.maxSteps)) break;

      // Chunk boundaries: never cross a checkpoint, a log line, --max-steps or the end of the epoch.
      const c = cfg();
      const n = chunkSteps(s.step, stepsPerChunk, c);
      const t0 = performance.now();
      const chunk = await s.trainChunk(n);
      const seconds = (performance.now() - t0) / 1000;
      // Size the next chunk to about chunkMs of work, so edits, pauses and metrics stay responsive.
      const perStep = seconds / chunk.steps;
      stepsPerChunk = Math.max(1, Math.min(4096, Math.round(chunkMs / 1000 / Math.max(perStep, 1e-6))));
      // `serve` has no listener for log lines (its clients get the live metrics): only `train` prints them.
      const { logLines, bad } = this.metrics.add(s, chunk, seconds, this.listenerCount('log') > 0);
      for (const line of logLines) this.emit('log', line);
      this.emitStepHistogram(this.stepHistograms.afterChunk(s, chunk.steps, seconds));
      this.opts.store?.appendLosses(this.runId, Float32Array.from(chunk.losses));
      if (s.step % c.checkpointEvery === 0) {
        this.emitLive(s, true); // the history is recorded up to the checkpoint a resume would continue from
        await this.queueCheckpoint('latest.ckpt');
      }
      if (chunk.epochEnded) {
        await this.runEval(s);
        await this.queueCheckpoint(`step-${s.step}.ckpt`);
        this.metrics.epochEnded();
      }
      if (performance.now() - this.lastLiveEmit >= intervalMs) this.emitLive(s);
      if (bad !== null) {
        this.control.pause = true;
        this.stateReason = `the training loss became ${bad} at step ${s.step}: paused instead of training on garbage. Lower the learning rate and resume, or fork from an earlier checkpoint.`;
      }
      // Let sockets, timers and signals run between chunks.
      await new Promise<void>((r) => setImmediate(r));
    }
    this.emitStepHistogram(this.stepHistograms.finish(s));
    this.emitLive(s, true);
    this.serveWeightReaders(s);
    if (this.lastEvalStep !== s.step) await this.runEval(s);
    await this.writeCheckpoint('latest.ckpt');
    const ended = this.control.stop && !(s.epoch >= this.config.epochs || (this.config.maxSteps > 0 && s.step >= this.config.maxSteps));
    this.setState(ended ? 'stopped' : 'done');
    return this.summary(s);
  }

  private summary(s: TrainingSession): RunSummaryDone {
    return {
      steps: s.step,
      seconds: this.metrics.trainSeconds,
      samplesPerSec: this.metrics.samplesPerSec,
      trainLoss: this.metrics.trainLoss,
      testAccuracy: this.lastEval?.testAccuracy ?? 0,
      parametersSha256: s.parametersSha256(),
    };
  }

  /**
   * Sends the steps aggregated since the last metrics message, if any, and records them in the run's history at
   * most every RECORD_INTERVAL_MS (always when `force`: a pause, a halt, the end).
   */
  private emitLive(s: TrainingSession, force = false): void {
    const msg = this.metrics.takeLive(s);
    const now = performance.now();
    if (msg) {
      this.lastLiveEmit = now;
      this.emit('metrics', msg);
    }
    if (force || now - this.lastRecord >= RECORD_INTERVAL_MS) {
      const record = this.metrics.takeRecord(s);
      if (record) {
        this.lastRecord = now;
        this.opts.store?.appendEvent(this.runId, record);
      }
    }
  }

  private lastRecord = 0;

  private emitStepHistogram(out: HistogramOutput): void {
    if (out.live) this.emit('stepHistogram', out.live);
    if (out.record) this.opts.store?.appendEvent(this.runId, out.record);
  }

  private applyEdits(s: TrainingSession): void {
    // Between chunks the workers wait, so new values take effect at the next step.
    const applied = this.edits.settle(this.runId, s.step + 1, (changes) => s.update(changes));
    this.config = { ...s.config };
    if (!applied) return;
    this.opts.store?.appendEvent(this.runId, applied);
    this.emit('applied', applied);
    if (Object.keys(applied.changes).some((k) => k === 'learningRate' || (SCHEDULE_FIELDS as readonly string[]).includes(k))) this.emitPlan(s, applied.step);
  }

  /** The lr planned from `step` on (the schedule's, after any edit): the dashboard draws it ahead of the run. */
  private emitPlan(s: TrainingSession, step: number): void {
    const msg: PlanMessage = { type: 'plan', runId: this.runId, step, points: planPoints(s.config, step - 1) };
    this.opts.store?.appendEvent(this.runId, msg);
    this.emit('plan', msg);
  }

  private async runEval(s: TrainingSession): Promise<void> {
    const r = await s.evaluate();
    this.lastEval = r;
    this.lastEvalStep = s.step;
    const msg: EvalMessage = { type: 'eval', runId: this.runId, step: s.step, epoch: s.epochProgress, ...r };
    this.opts.store?.appendEvent(this.runId, msg);
    this.emit('eval', msg);
  }

  /**
   * Takes a checkpoint of the run as it is now and writes it off the main thread (the hash and the file system's
   * calls run on libuv's thread pool). One write at a time: each starts once the one before it is on disk (at once,
   * unless the disk is slower than the run), so the newest checkpoint is always the last written and latest.ckpt
   * never goes back. Routine checkpoints are only started, so the workers train on while the disk syncs. A failure to
   * write is reported, never fatal to the run. Resolves once the write has started; `written` once it is on disk (the
   * path), or could not be written (null).
   */
  private async queueCheckpoint(name: string): Promise<{ written: Promise<string | null> }> {
    await this.writes;
    const dir = this.checkpointDir;
    const session = this.session;
    if (!dir || !session) return { written: Promise.resolve(null) };
    const file = join(dir, name);
    const step = session.step;
    let write: Promise<void>;
    try {
      const state = session.snapshot(this.runId, this.metrics.log.lossSum, this.metrics.log.steps, {
        ...(this.opts.parentRunId ? { parentRunId: this.opts.parentRunId, forkStep: this.opts.forkStep } : {}),
      });
      write = writeCheckpointAtomic(file, state);
    } catch (e) {
      this.writeFailed(file, e as Error);
      return { written: Promise.resolve(null) };
    }
    const written = write.then(
      () => {
        this.emit('checkpoint', { step, path: file });
        return file;
      },
      (e: Error) => {
        this.writeFailed(file, e);
        return null;
      },
    );
    this.writes = written.catch(() => null); // the next write goes on whatever a listener threw
    return { written };
  }

  /** queueCheckpoint, then waits for it (and every write before it) to be on disk: the path, or null on failure. */
  private async writeCheckpoint(name: string): Promise<string | null> {
    return (await this.queueCheckpoint(name)).written;
  }

  /** Reported, never fatal: the run trains on, and the next checkpoint may succeed. */
  private writeFailed(file: string, e: Error): void {
    const message = `could not write checkpoint ${file}: ${e.message}; training goes on, but a crash now would lose the steps since the last checkpoint`;
    this.opts.notice?.(message);
    this.emit('writeFailed', message);
  }
}
