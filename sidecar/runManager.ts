// Maps client messages to runs (DESIGN.md "WebSocket"): starts, resumes and forks runs, forwards the
// controls, and sends each run's messages to the clients subscribed to it. Runs train in this process
// (the Run in trainer.ts); what they record lives in the run store, so a client that subscribes late, or
// after a restart, gets the whole history from disk.
import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute } from 'node:path';
import { comparisonJobs, concurrentRuns, newGroup, runJobs } from './comparison';
import { isUserError, UserError } from './errors';
import {
  LIVE_HYPERPARAMETERS,
  LIVE_STATES,
  isEnded,
  type ClientMessage,
  type LiveHyperparameters,
  type ComparedOptimizer,
  type RunConfig,
  type RunGroup,
  type RunSummary,
  type ServerMessage,
  type StartConfig,
  resolveConfig,
} from './protocol';
import { variantFields } from './optim/variants';
import { defaultWorkers } from './session';
import { newestCheckpointInAsync, readCheckpointAsync } from './store/checkpoint';
import { newRunId, resolveUserPath } from './store/paths';
import type { RunStore } from './store/runs';
import type { TrainingState } from './store/state';
import { Run, type RunOptions } from './trainer';
import { checkCheckpointOfRun, pickChanges, resumedConfig } from './resume';
import { Subscriptions } from './subscriptions';
import { runDetail } from './runDetail';
import { Predictions } from './predictions';
import { LrFindJobs } from './lrFindJobs';

/** One connected client, as the manager sees it; the server decides how (and whether) bytes go out. */
export interface Client {
  readonly id: number;
  send(msg: ServerMessage): void;
}

/** What the server needs from whatever handles messages: the RunManager, or a test's stand-in. */
export interface MessageHandler {
  listRuns(): RunSummary[];
  handle(client: Client, msg: ClientMessage): Promise<void>;
  disconnect(client: Client): void;
  /** Checkpoints every training run (within `timeoutMs`), before the process exits. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface RunManagerOptions {
  store: RunStore;
  cacheDir: string;
  workers?: number;
  /** Most runs training at once (serve --max-runs; default 4): each holds its dataset and worker threads. */
  maxRuns?: number;
  notice?: (line: string) => void;
  /** Extra options for every Run (tests: a smaller chunk or metrics interval). */
  runOptions?: Partial<RunOptions>;
}

interface LiveRun {
  run: Run;
  parentRunId?: string;
  forkStep?: number;
  checkpointSteps: Map<string, number>;
  /** Clients waiting for their own `checkpoint` reply (they get it with their requestId, once). */
  checkpointRequesters: Set<Client>;
}

/** Runs training at once in one sidecar unless `serve --max-runs` says otherwise. */
export const DEFAULT_MAX_RUNS = 4;

export class RunManager implements MessageHandler {
  private readonly live = new Map<string, LiveRun>();
  private readonly subscriptions: Subscriptions;
  private readonly predictions: Predictions;
  private shuttingDown = false;

  private readonly lrFinds: LrFindJobs;

  constructor(private readonly opts: RunManagerOptions) {
    this.subscriptions = new Subscriptions(opts.store);
    this.predictions = new Predictions({ store: opts.store, cacheDir: opts.cacheDir, liveRun: (runId) => this.live.get(runId)?.run });
    this.lrFinds = new LrFindJobs({ cacheDir: opts.cacheDir, notice: opts.notice });
  }

  listRuns(): RunSummary[] {
    return this.opts.store.listRuns((runId) => {
      const l = this.live.get(runId);
      return l ? { state: l.run.state, step: l.run.step } : undefined;
    });
  }

  async handle(client: Client, msg: ClientMessage): Promise<void> {
    const requestId = msg.requestId;
    try {
      await this.dispatch(client, msg);
    } catch (e) {
      if (!isUserError(e)) throw e;
      client.send({
        type: 'error',
        code: e.code,
        message: e.message,
        ...(e.field ? { field: e.field } : {}),
        ...('runId' in msg ? { runId: msg.runId } : {}),
        ...(requestId !== undefined ? { requestId } : {}),
      });
    }
  }

  private async dispatch(client: Client, msg: ClientMessage): Promise<void> {
    const requestId = msg.requestId;
    switch (msg.type) {
      case 'start': {
        await this.start(msg.config, { resumeFrom: msg.resumeFrom, client, requestId });
        return;
      }
      case 'compare':
        this.compare(msg.optimizers, msg.seeds, msg.config, { client, requestId });
        return;
      case 'fork': {
        await this.fork(msg.runId, msg.step, msg.changes, { client, requestId });
        return;
      }
      case 'update': {
        const { type: _t, runId, requestId: _r, ...changes } = msg;
        this.liveRun(runId).run.update(changes, { requestId, answer: (m) => client.send(m) });
        return;
      }
      case 'pause':
        this.liveRun(msg.runId).run.pause();
        return;
      case 'resume':
        this.liveRun(msg.runId).run.resume();
        return;
      case 'stop':
        await this.liveRun(msg.runId).run.stop();
        return;
      case 'evaluate':
        this.liveRun(msg.runId).run.evaluate();
        return;
      case 'gallery':
        client.send(await this.predictions.gallery(msg));
        return;
      case 'classify':
        client.send(await this.predictions.classify(msg));
        return;
      case 'checkpoint': {
        const l = this.liveRun(msg.runId);
        // One checkpoint request of a client's at a time per run: each is a full copy of the run's state on disk.
        if (l.checkpointRequesters.has(client)) throw new UserError('run_busy', `a checkpoint of run ${msg.runId} you asked for is being written; wait for its checkpointed reply`);
        l.checkpointRequesters.add(client);
        try {
          const path = await l.run.checkpoint();
          client.send({ type: 'checkpointed', runId: msg.runId, step: l.checkpointSteps.get(path) ?? l.run.step, path, ...(requestId !== undefined ? { requestId } : {}) });
        } finally {
          l.checkpointRequesters.delete(client);
        }
        return;
      }
      case 'subscribe':
        this.subscribe(client, msg.runId, requestId);
        return;
      case 'unsubscribe':
        this.subscriptions.unsubscribe(client, msg.runId);
        return;
      case 'detail':
        if (!this.live.has(msg.runId) && !this.opts.store.exists(msg.runId)) throw new UserError('unknown_run', `no run ${msg.runId}`);
        client.send({ ...runDetail(this.opts.store, msg.runId, msg.fromStep, msg.toStep), ...(requestId !== undefined ? { requestId } : {}) });
        return;
      case 'list':
        client.send({ type: 'runs', runs: this.listRuns(), ...(requestId !== undefined ? { requestId } : {}) });
        return;
      case 'lrFind': {
        // Beside the run, never touching it: the live run's current values, or the recorded run's.
        const config = this.live.get(msg.runId)?.run.config ?? this.opts.store.readRecord(msg.runId).config;
        await this.lrFinds.start(client, msg, config);
        return;
      }
      case 'delete': {
        const l = this.live.get(msg.runId);
        if (l) {
          await l.run.stop().catch(() => undefined);
          this.live.delete(msg.runId);
        }
        this.opts.store.deleteRun(msg.runId);
        this.subscriptions.forget(msg.runId);
        client.send({ type: 'runs', runs: this.listRuns(), ...(requestId !== undefined ? { requestId } : {}) });
        return;
      }
    }
  }

  disconnect(client: Client): void {
    this.subscriptions.disconnect(client);
    for (const l of this.live.values()) l.checkpointRequesters.delete(client);
    this.lrFinds.disconnect(client);
  }

  /**
   * Starts a run: a fresh one, or one resumed from a checkpoint (a `.ckpt` file, or a run folder, whose
   * newest checkpoint is taken). A resume continues the checkpoint's own run in place when that run is in
   * this runs folder and the checkpoint is its newest; otherwise it starts a new run whose parent is the
   * checkpoint's run. A run that is training (here or in another process) is not resumed: fork it. Fields of `start.config` given with a resume: live hyperparameters become
   * edits applied at the resume step; where-and-how fields replace the checkpoint's; a different seed or
   * optimizer is an error.
   */
  async start(start: StartConfig, opts: { resumeFrom?: string; client?: Client; requestId?: string | number } = {}): Promise<Run> {
    if (start.data !== undefined && start.data !== 'sample') start = { ...start, data: wirePath(start.data, 'data') };
    if (opts.resumeFrom !== undefined) opts = { ...opts, resumeFrom: wirePath(opts.resumeFrom, 'resumeFrom') };
    if (opts.resumeFrom === undefined) {
      // One worker per core (or serve --workers), not the cores other programs leave free as `train` does
      // (parallel/freeCores.ts): a server's runs start as its clients start, and in VS Code the dashboard that opens
      // with the run keeps a core busy for that moment (code-server: every run started on one worker, then trained
      // at 0.74x of headless at batch 4). The thread governor adapts to the machine as the run goes.
      const config = resolveConfig(start, this.opts.workers ?? defaultWorkers());
      return this.launch({ runId: newRunId(), config, fresh: true }, opts);
    }
    const { state, inPlace } = await this.checkpointToResume(opts.resumeFrom);
    const { config, edits } = resumedConfig(state, start);
    if (inPlace) {
      const record = this.opts.store.readRecord(state.runId);
      this.opts.store.rewindLosses(state.runId, state.step);
      return this.launch({ runId: state.runId, config, resume: state, edits, parentRunId: record.parentRunId, forkStep: record.forkStep, fresh: false }, opts);
    }
    return this.launch({ runId: newRunId(), config, resume: state, edits, parentRunId: state.runId, forkStep: state.step, fresh: true }, opts);
  }

  /**
   * A comparison over seeds (comparison.ts): every (optimizer, seed) pair with the rest of `config`, one worker
   * a run by default and as many runs at a time as the cores allow. The sender gets `comparing` now, then a
   * `started` (with the group, subscribing it) as each run starts; everyone sees the group in the run list.
   * A run that pauses on a NaN loss is stopped (nobody waits on a group's run); a shutdown starts no more.
   */
  compare(optimizers: ComparedOptimizer[], seeds: number[], config: StartConfig, opts: { client?: Client; requestId?: string | number } = {}): RunGroup {
    if (config.data !== undefined && config.data !== 'sample') config = { ...config, data: wirePath(config.data, 'data') };
    const workers = config.workers ?? 1;
    const group = newGroup(optimizers, seeds);
    opts.client?.send({ type: 'comparing', group, ...(opts.requestId !== undefined ? { requestId: opts.requestId } : {}) });
    const jobs = comparisonJobs(optimizers, seeds);
    void runJobs(jobs, concurrentRuns(workers), (job) => {
      const runConfig = resolveConfig({ ...config, workers, ...variantFields(job.optimizer), seed: job.seed }, workers);
      let run: Run;
      try {
        run = this.launch({ runId: newRunId(), config: runConfig, fresh: true, group }, { client: opts.client });
      } catch (e) {
        // Refused (too many runs, say): the requester hears why, and the comparison goes on with the next.
        const message = `${job.optimizer} seed ${job.seed} of comparison ${group.id} was not started: ${(e as Error).message}`;
        opts.client?.send({ type: 'error', code: isUserError(e) ? e.code : 'internal_error', message, ...(opts.requestId !== undefined ? { requestId: opts.requestId } : {}) });
        return { ready: Promise.resolve(), done: Promise.reject(e) };
      }
      run.on('state', (s: { state: string; reason?: string }) => {
        if (s.state === 'paused' && s.reason) void run.stop();
      });
      const done = run.start();
      const ready = new Promise<void>((resolve) => {
        run.once('dataset', () => resolve());
        done.then(() => resolve(), () => resolve());
      });
      return { ready, done };
    }, () => !this.shuttingDown).catch((e: unknown) => this.opts.notice?.(`comparison ${group.id}: ${(e as Error)?.stack ?? e}`));
    return group;
  }

  /**
   * Serves a run made elsewhere (`train --dashboard`): its messages go to subscribers like any other's.
   * The caller created its folder in the store and starts it.
   */
  adopt(run: Run, parent?: { parentRunId: string; forkStep: number }): void {
    const l: LiveRun = { run, ...parent, checkpointSteps: new Map(), checkpointRequesters: new Set() };
    this.live.set(run.runId, l);
    this.wire(l);
    run.on('state', (msg: { state: string }) => {
      if (isEnded(msg.state)) this.ended(l);
    });
  }

  /** A new run from the nearest checkpoint at or before `step` of `runId`, with `changes` applied there. */
  async fork(runId: string, step: number, changes: LiveHyperparameters, opts: { client?: Client; requestId?: string | number } = {}): Promise<Run> {
    const l = this.live.get(runId);
    let state: TrainingState;
    if (l && LIVE_STATES.has(l.run.state) && step >= l.run.step && l.run.step > 0) {
      state = await readCheckpointAsync(await l.run.checkpoint()); // "fork from here": checkpoint now
    } else {
      if (!this.opts.store.exists(runId)) throw new UserError('unknown_run', `no run ${runId} to fork`);
      state = this.opts.store.checkpointAtOrBefore(runId, step).state;
    }
    return this.launch({ runId: newRunId(), config: state.config, resume: state, edits: changes, parentRunId: runId, forkStep: state.step, fresh: true }, opts);
  }

  /**
   * Halts every active run at a step boundary after a checkpoint (bounded by `timeoutMs`), recording no
   * state, so that a restarted sidecar can resume them; nothing trains or writes after this.
   */
  async shutdown(timeoutMs = 4000): Promise<void> {
    this.shuttingDown = true;
    const pending = [...this.live.values()]
      .filter((l) => LIVE_STATES.has(l.run.state))
      .map((l) => l.run.halt().catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.opts.store.closeAll();
  }

  // ---------------------------------------------------------------------------------------------------

  private liveRun(runId: string): LiveRun {
    const l = this.live.get(runId);
    // A run that has ended is no longer live, even in the moment before its loop has wound down.
    if (l && LIVE_STATES.has(l.run.state)) return l;
    if (this.opts.store.exists(runId)) {
      throw new UserError('unknown_run', `run ${runId} is not training in this sidecar; resume it (start with resumeFrom) or fork it`);
    }
    throw new UserError('unknown_run', `no run ${runId}`);
  }

  private subscribe(client: Client, runId: string, requestId?: string | number): void {
    const l = this.live.get(runId);
    if (!l && !this.opts.store.exists(runId)) throw new UserError('unknown_run', `no run ${runId}`);
    this.subscriptions.subscribe(client, runId, l ? { config: l.run.config, state: l.run.state } : undefined, requestId);
  }

  private broadcast(runId: string, msg: ServerMessage, except?: Set<Client>): void {
    this.subscriptions.broadcast(runId, msg, except);
  }

  // The file is read asynchronously: a client's resumeFrom must not stall every other client while it loads.
  private async checkpointToResume(resumeFrom: string): Promise<{ state: TrainingState; inPlace: boolean }> {
    const path = resolveUserPath(resumeFrom, 'resumeFrom');
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // readCheckpointAsync names the missing file
    }
    const state = isDir ? await newestCheckpointInAsync(path) : await readCheckpointAsync(path);
    const store = this.opts.store;
    if (this.live.has(state.runId) && LIVE_STATES.has(this.live.get(state.runId)!.run.state)) {
      throw new UserError('run_busy', `run ${state.runId} is training in this sidecar already; fork it to branch off with other values`);
    }
    if (store.exists(state.runId) && store.activeElsewhere(state.runId)) {
      throw new UserError('run_busy', `run ${state.runId} is being trained by another process; stop it there, or fork it`);
    }
    // A checkpoint naming a run of this folder must be that run's before it may continue it in place.
    if (store.exists(state.runId)) checkCheckpointOfRun(state, store.readRecord(state.runId), `checkpoint ${path}`);
    let inPlace = false;
    try {
      if (store.exists(state.runId)) {
        const newest = store.checkpoints(state.runId).pop();
        inPlace = newest === undefined || state.step >= newest.step;
      }
    } catch {
      inPlace = false;
    }
    return { state, inPlace };
  }

  private launch(
    r: { runId: string; config: RunConfig; resume?: TrainingState; edits?: LiveHyperparameters; parentRunId?: string; forkStep?: number; fresh: boolean; group?: RunGroup },
    opts: { client?: Client; requestId?: string | number },
  ): Run {
    const training = [...this.live.values()].filter((l) => LIVE_STATES.has(l.run.state)).length;
    const maxRuns = this.opts.maxRuns ?? DEFAULT_MAX_RUNS;
    if (training >= maxRuns) {
      throw new UserError('too_many_runs', `${training} runs are training in this sidecar, the most it allows (${maxRuns}); stop one first, or start the sidecar with a larger --max-runs`);
    }
    // Threads past the cores only slow every run down: one run may have at most as many workers as there are cores.
    if (r.config.workers > cpus().length) {
      throw new UserError('bad_config', `workers ${r.config.workers} is more than this machine's ${cpus().length} cores; ask for at most ${cpus().length}`, 'workers');
    }
    const store = this.opts.store;
    if (r.fresh) {
      store.createRun(r.runId, r.config, r.parentRunId !== undefined && r.forkStep !== undefined ? { parentRunId: r.parentRunId, forkStep: r.forkStep } : undefined, r.group);
    }
    // This process holds the run until it ends (store.close): another process cannot resume or delete it meanwhile.
    store.lock(r.runId);
    if (r.fresh) {
      // losses.f32 holds step i's loss at index i - 1, for every run: a branch starts with its parent's.
      if (r.resume && r.resume.step > 0) {
        const losses = new Float32Array(r.resume.step).fill(NaN);
        if (r.parentRunId && store.exists(r.parentRunId)) losses.set(store.readLosses(r.parentRunId).subarray(0, r.resume.step));
        store.appendLosses(r.runId, losses);
      }
    }
    const run = new Run({
      ...this.opts.runOptions,
      runId: r.runId,
      config: r.config,
      store,
      cacheDir: this.opts.cacheDir,
      ...(r.resume ? { resume: { ...r.resume, runId: r.runId, ...(r.fresh ? { parentRunId: r.parentRunId, forkStep: r.forkStep } : {}) } } : {}),
      ...(r.parentRunId !== undefined ? { parentRunId: r.parentRunId, forkStep: r.forkStep } : {}),
      notice: (line) => this.opts.notice?.(`run ${r.runId}: ${line}`),
    });
    const l: LiveRun = { run, parentRunId: r.parentRunId, forkStep: r.forkStep, checkpointSteps: new Map(), checkpointRequesters: new Set() };
    this.live.set(r.runId, l);
    this.wire(l);
    if (opts.client) {
      opts.client.send({
        type: 'started',
        runId: r.runId,
        config: r.config,
        ...(r.parentRunId !== undefined ? { parentRunId: r.parentRunId } : {}),
        ...(r.forkStep !== undefined ? { forkStep: r.forkStep } : {}),
        ...(r.group !== undefined ? { group: r.group } : {}),
        ...(opts.requestId !== undefined ? { requestId: opts.requestId } : {}),
      });
      this.subscriptions.add(opts.client, r.runId);
    }
    const edits = pickChanges(r.edits ?? {});
    if (Object.keys(edits).length) run.update(edits);
    run.start().then(
      () => this.ended(l),
      (e: unknown) => {
        const message = isUserError(e) ? e.message : `run ${r.runId} failed: ${(e as Error)?.message ?? e}`;
        if (!isUserError(e)) this.opts.notice?.(`run ${r.runId} failed: ${(e as Error)?.stack ?? e}`);
        this.broadcast(r.runId, { type: 'error', code: isUserError(e) ? e.code : 'run_failed', message, runId: r.runId });
        this.ended(l);
      },
    );
    return run;
  }

  private wire(l: LiveRun): void {
    const { run } = l;
    const runId = run.runId;
    for (const event of ['metrics', 'eval', 'applied', 'plan', 'state', 'stepHistogram'] as const) {
      run.on(event, (msg: ServerMessage) => this.broadcast(runId, msg));
    }
    run.on('progress', (p: { phase: 'download' | 'extract' | 'decode'; done: number; total: number }) =>
      this.broadcast(runId, { type: 'progress', phase: p.phase, done: p.done, total: p.total, runId }),
    );
    run.on('checkpoint', (c: { step: number; path: string }) => {
      l.checkpointSteps.set(c.path, c.step);
      this.broadcast(runId, { type: 'checkpointed', runId, step: c.step, path: c.path }, l.checkpointRequesters);
    });
    // Work that could not be saved is said to everyone watching, and logged: it must not go unheard.
    run.on('writeFailed', (message: string) => {
      this.opts.notice?.(`run ${runId}: ${message}`);
      this.broadcast(runId, { type: 'error', code: 'write_failed', message, runId });
    });
  }

  private ended(l: LiveRun): void {
    if (this.live.get(l.run.runId) === l) this.live.delete(l.run.runId);
    this.opts.store.close(l.run.runId);
  }
}

/** A path from the wire: absolute (the sidecar's working folder means nothing to a client), NUL-free, real. */
function wirePath(p: string, field: string): string {
  if (!isAbsolute(p)) throw new UserError('bad_config', `${field} must be an absolute path${field === 'data' ? " or 'sample'" : ''}, got ${JSON.stringify(p.slice(0, 200))}`, field);
  return resolveUserPath(p, field);
}
