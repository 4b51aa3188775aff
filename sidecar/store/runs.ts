// The runs folder (DESIGN.md "Extension": several windows share it): one folder per run id and nothing
// else. A run's folder holds
//   config.json    {config, createdAt, parentRunId?, forkStep?, group?}, replaced only by atomic rename; `group`
//                  names the comparison over seeds (`adam-trainer compare`) the run belongs to
//   events.jsonl   the run's metrics, eval, applied and state messages (protocol.ts), one JSON line each,
//                  appended; only the process that runs the run writes it
//   status.json    the last state (and the step, test accuracy, pid and host of its writer), replaced
//                  atomically on each state or eval event so `listRuns` need not read every events file
//   losses.f32     every step's training loss, float32 LE, appended in blocks
//   latest.ckpt, step-<N>.ckpt
// A crash can leave a torn last line or a partial float; readers skip the one and ignore the other, and
// the first append after a crash starts on a fresh line.
import { closeSync, existsSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { hostname, uptime } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors';
import { RunLocks } from './runLock';
import {
  type AppliedMessage,
  type EvalMessage,
  type MetricsMessage,
  type PlanMessage,
  type RunConfig,
  type RunGroup,
  type RunState,
  type RunSummary,
  type StateMessage,
  type StepHistogramMessage,
  isEnded,
  LIVE_STATES,
  runConfigSchema,
  runGroupSchema,
  validateServerMessage,
} from '../protocol';
import { type CheckpointFile, checkpointsIn, readCheckpoint, writeFileAtomic } from './checkpoint';
import { writeSummary } from './historySummary';
import { checkRunId, RUN_ID_PATTERN, resolveUserPath, runDir } from './paths';
import type { TrainingState } from './state';

export type StoredEvent = MetricsMessage | EvalMessage | AppliedMessage | StateMessage | StepHistogramMessage | PlanMessage;

export interface RunRecord {
  config: RunConfig;
  createdAt: string;
  parentRunId?: string;
  forkStep?: number;
  group?: RunGroup;
}

export interface RunHistory extends RunRecord {
  runId: string;
  state: RunState;
  reason?: string;
  step?: number;
  metrics: MetricsMessage[];
  evals: EvalMessage[];
  applied: AppliedMessage[];
  stepHistograms: StepHistogramMessage[];
  plans: PlanMessage[];
}

interface Status {
  state: RunState;
  reason?: string;
  step?: number;
  testAccuracy?: number;
  pid?: number;
  host?: string;
  updatedAt?: string;
}

const CHECKPOINT_NAME = /^(latest|step-(\d+))(\.ckpt)?$/;

export class RunStore {
  readonly root: string;
  private readonly events = new Map<string, number>(); // open append descriptors of events.jsonl
  private readonly locks = new RunLocks();
  private readonly losses = new Map<string, number>();
  private readonly lastStep = new Map<string, number>();
  private readonly lastAccuracy = new Map<string, number>();

  constructor(runsDir: string) {
    mkdirSync(resolveUserPath(runsDir, 'runs folder'), { recursive: true });
    this.root = resolveUserPath(runsDir, 'runs folder');
  }

  /** The run's folder; a run id that is not a plain name inside the runs folder is refused (bad_path). */
  dir(runId: string): string {
    return runDir(this.root, runId);
  }

  exists(runId: string): boolean {
    return existsSync(join(this.dir(runId), 'config.json'));
  }

  createRun(runId: string, config: RunConfig, parent?: { parentRunId: string; forkStep: number }, group?: RunGroup): RunRecord {
    const dir = this.dir(runId);
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UserError('bad_config', `run ${runId} already exists in ${this.root}`);
      throw e;
    }
    const record: RunRecord = { config, createdAt: new Date().toISOString(), ...(parent ?? {}), ...(group ? { group } : {}) };
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(record, null, 2) + '\n');
    return record;
  }

  readRecord(runId: string): RunRecord {
    const file = join(this.dir(runId), 'config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('unknown_run', `no run ${runId} in ${this.root}`);
      throw new UserError('unknown_run', `run ${runId} has an unreadable config.json (${(e as Error).message})`);
    }
    const r = raw as Partial<RunRecord> | null;
    const config = runConfigSchema.safeParse(r?.config);
    const group = r?.group === undefined ? undefined : runGroupSchema.safeParse(r.group);
    if (!config.success) throw new UserError('unknown_run', `run ${runId} has an invalid config.json: ${config.error.issues[0].path.join('.')} ${config.error.issues[0].message}`);
    return {
      config: config.data,
      createdAt: typeof r?.createdAt === 'string' ? r.createdAt : '',
      ...(typeof r?.parentRunId === 'string' && RUN_ID_PATTERN.test(r.parentRunId) ? { parentRunId: r.parentRunId } : {}),
      ...(Number.isInteger(r?.forkStep) ? { forkStep: r?.forkStep } : {}),
      ...(group?.success ? { group: group.data } : {}),
    };
  }

  /** Appends one run message as a JSON line; a state or eval message also replaces status.json. */
  appendEvent(runId: string, msg: StoredEvent): void {
    const fd = this.appendDescriptor(this.events, runId, 'events.jsonl');
    writeAll(fd, Buffer.from(JSON.stringify(msg) + '\n', 'utf8'));
    if ('step' in msg && typeof msg.step === 'number') this.lastStep.set(runId, msg.step);
    if (msg.type === 'eval') this.lastAccuracy.set(runId, msg.testAccuracy);
    if (msg.type === 'state' || msg.type === 'eval') this.writeStatus(runId, msg);
    // The run has ended: its compacted history is written beside the log, so opening it later is one small read.
    if (msg.type === 'state' && !LIVE_STATES.has(msg.state)) writeSummary(this, runId);
  }

  /** Appends a block of per-step training losses (float32 LE). */
  appendLosses(runId: string, losses: Float32Array): void {
    const fd = this.appendDescriptor(this.losses, runId, 'losses.f32');
    const bytes = Buffer.alloc(losses.length * 4);
    for (let i = 0; i < losses.length; i++) bytes.writeFloatLE(losses[i], i * 4);
    writeAll(fd, bytes);
  }

  readLosses(runId: string): Float32Array {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir(runId), 'losses.f32'));
    } catch {
      return new Float32Array(0);
    }
    const out = new Float32Array(Math.floor(bytes.length / 4));
    for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
    return out;
  }

  /** A run resumed at `step` drops the losses recorded after it (they were trained again from the checkpoint). */
  rewindLosses(runId: string, step: number): void {
    const fd = this.appendDescriptor(this.losses, runId, 'losses.f32');
    if (fstatSync(fd).size > step * 4) ftruncateSync(fd, step * 4);
  }

  /**
   * The run as recorded: its configuration, last state, and its metrics, evals and applied changes. A torn
   * or invalid line is skipped. When a resumed run repeats steps (it continued from a checkpoint older
   * than its last message), the later messages replace the earlier ones from that step on.
   */
  readHistory(runId: string): RunHistory {
    const record = this.readRecord(runId);
    const history: RunHistory = { runId, ...record, state: 'idle', metrics: [], evals: [], applied: [], stepHistograms: [], plans: [] };
    for (const msg of this.readEvents(runId)) {
      switch (msg.type) {
        case 'metrics': {
          const last = history.metrics[history.metrics.length - 1];
          if (last && last.step >= msg.step) {
            // A resumed run repeats the steps after its checkpoint: from here on, the new messages count.
            rewind(history.metrics, msg.step);
            rewind(history.evals, msg.step);
            rewind(history.applied, msg.step);
            rewind(history.stepHistograms, msg.step);
            rewind(history.plans, msg.step);
          }
          history.metrics.push(msg);
          history.step = msg.step;
          break;
        }
        case 'eval':
          rewind(history.evals, msg.step);
          history.evals.push(msg);
          break;
        case 'applied':
          rewind(history.applied, msg.step);
          history.applied.push(msg);
          break;
        case 'stepHistogram':
          rewind(history.stepHistograms, msg.step);
          history.stepHistograms.push(msg);
          break;
        case 'plan':
          rewind(history.plans, msg.step);
          history.plans.push(msg);
          break;
        case 'state':
          if (msg.step !== undefined) {
            // A resumed run announces the step it resumed from: everything recorded after it is superseded.
            if (LIVE_STATES.has(msg.state)) {
              rewind(history.metrics, msg.step + 1);
              rewind(history.evals, msg.step + 1);
              rewind(history.applied, msg.step + 1);
              rewind(history.stepHistograms, msg.step + 1);
              rewind(history.plans, msg.step + 1);
            }
            history.step = msg.step;
          }
          history.state = msg.state;
          if (msg.reason !== undefined) history.reason = msg.reason;
          else delete history.reason;
          break;
      }
    }
    return history;
  }

  /** Every run in the folder, oldest first. `live` gives the state of runs running in this process. */
  listRuns(live?: (runId: string) => Partial<RunSummary> | undefined): RunSummary[] {
    const out: RunSummary[] = [];
    let names: string[];
    try {
      names = readdirSync(this.root).sort();
    } catch {
      return out;
    }
    for (const runId of names) {
      if (!RUN_ID_PATTERN.test(runId) || runId === '.' || runId === '..') continue;
      const summary = this.summary(runId);
      if (!summary) continue;
      const here = live?.(runId);
      if (here) {
        delete summary.orphaned;
        Object.assign(summary, here);
        if (!isEnded(summary.state)) delete summary.reason; // training here again: the last end's reason is past
      }
      out.push(summary);
    }
    return out;
  }

  /** One run's summary, or undefined when the folder is not a run (no valid config.json yet). */
  summary(runId: string): RunSummary | undefined {
    let record: RunRecord;
    try {
      record = this.readRecord(runId);
    } catch {
      return undefined;
    }
    const status = this.readStatus(runId);
    const summary: RunSummary = {
      runId,
      state: status.state,
      config: record.config,
      ...(record.parentRunId !== undefined ? { parentRunId: record.parentRunId } : {}),
      ...(record.forkStep !== undefined ? { forkStep: record.forkStep } : {}),
      ...(record.createdAt ? { createdAt: record.createdAt } : {}),
      ...(record.group ? { group: record.group } : {}),
      ...(status.step !== undefined ? { step: status.step } : {}),
      ...(status.testAccuracy !== undefined ? { testAccuracy: status.testAccuracy } : {}),
      ...(isEnded(status.state) && typeof status.reason === 'string' ? { reason: status.reason } : {}),
    };
    // Left running or paused by a process that is gone (a crash, a window reload): offered for resuming.
    if (LIVE_STATES.has(status.state) && status.pid !== undefined && !processAlive(status) && !this.activeElsewhere(runId)) summary.orphaned = true;
    return summary;
  }

  /** True when another process holds the run's lock (runLock.ts: a fresh heartbeat decides). */
  activeElsewhere(runId: string): boolean {
    return RunLocks.heldElsewhere(this.dir(runId));
  }

  /** Takes the run for this process (run_busy when another holds it); released by close(). */
  lock(runId: string): void {
    this.locks.acquire(runId, this.dir(runId));
  }

  deleteRun(runId: string): void {
    const dir = this.dir(runId);
    checkRunId(runId);
    const entry = join(this.root, runId);
    let isLink = false;
    try {
      isLink = lstatSync(entry).isSymbolicLink();
    } catch {
      throw new UserError('unknown_run', `no run ${runId} in ${this.root}`);
    }
    if (isLink) throw new UserError('bad_path', `run ${runId} is a symbolic link, not a run folder; refused`);
    if (this.activeElsewhere(runId)) throw new UserError('run_busy', `run ${runId} is being trained by another process; stop it there first`);
    this.close(runId);
    rmSync(dir, { recursive: true, force: true });
  }

  /** `latest` or `step-<N>` (with or without `.ckpt`) inside the run's folder. */
  checkpointPath(runId: string, name: string): string {
    const m = CHECKPOINT_NAME.exec(name);
    if (!m) throw new UserError('bad_path', `checkpoint name must be 'latest' or 'step-<N>', got ${JSON.stringify(name)}`);
    return join(this.dir(runId), `${m[1]}.ckpt`);
  }

  /** The run's checkpoints with their steps, oldest first. */
  checkpoints(runId: string): CheckpointFile[] {
    const dir = this.dir(runId);
    try {
      return checkpointsIn(dir);
    } catch {
      throw new UserError('unknown_run', `no run ${runId} in ${this.root}`);
    }
  }

  /** The checkpoint nearest at or before `step` (for forks), checked and loaded. */
  checkpointAtOrBefore(runId: string, step: number): { path: string; state: TrainingState } {
    const candidates = this.checkpoints(runId).filter((c) => c.step <= step);
    if (!candidates.length) throw new UserError('bad_checkpoint', `run ${runId} has no checkpoint at or before step ${step}`);
    const best = candidates[candidates.length - 1];
    return { path: best.path, state: best.state ?? readCheckpoint(best.path) };
  }

  /** Closes the run's open append descriptors (before a delete, or when the run ends). */
  /** Closes the run's files and gives its lock up. */
  close(runId: string): void {
    for (const map of [this.events, this.losses]) {
      const fd = map.get(runId);
      if (fd !== undefined) closeSync(fd);
      map.delete(runId);
    }
    this.locks.release(runId);
  }

  closeAll(): void {
    for (const runId of new Set([...this.events.keys(), ...this.losses.keys(), ...this.locks.runIds()])) this.close(runId);
  }

  /**
   * The run's recorded messages, read in pieces (a long run's log may be larger than one string can hold). A log
   * that does not exist yet is an empty history; one that exists but cannot be read is an error that says so,
   * never an empty history.
   */
  private *readEvents(runId: string): Generator<StoredEvent> {
    const file = join(this.dir(runId), 'events.jsonl');
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new UserError('read_failed', `could not read the history of run ${runId} (${file}): ${(e as Error).message}`);
    }
    const chunk = Buffer.alloc(1 << 22);
    let carry = '';
    try {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, chunk, 0, chunk.length, null);
        } catch (e) {
          throw new UserError('read_failed', `could not read the history of run ${runId} (${file}): ${(e as Error).message}`);
        }
        if (n === 0) break;
        const lines = (carry + chunk.toString('utf8', 0, n)).split('\n');
        carry = lines.pop()!;
        for (const line of lines) {
          const msg = storedEvent(line);
          if (msg) yield msg;
        }
      }
      const last = storedEvent(carry);
      if (last) yield last;
    } finally {
      closeSync(fd);
    }
  }


  private readStatus(runId: string): Status {
    try {
      const s = JSON.parse(readFileSync(join(this.dir(runId), 'status.json'), 'utf8')) as Status;
      if (typeof s?.state === 'string') return s;
    } catch {
      // no status yet, or written by an older version: the events file has the answer
    }
    let status: Status = { state: 'idle' };
    for (const msg of this.readEvents(runId)) {
      if (msg.type === 'state') {
        status = { ...status, state: msg.state, ...(msg.step !== undefined ? { step: msg.step } : {}) };
        if (msg.reason !== undefined) status.reason = msg.reason;
        else delete status.reason;
      }
      else if (msg.type === 'eval') status.testAccuracy = msg.testAccuracy;
      if (msg.type === 'metrics') status.step = msg.step;
    }
    return status;
  }

  private writeStatus(runId: string, msg: StateMessage | EvalMessage): void {
    const previous = this.readStatus(runId);
    // An eval after the end (the final evaluation of a stopped run) keeps the end's reason.
    const reason = msg.type === 'state' ? msg.reason : previous.reason;
    const status: Status = {
      state: msg.type === 'state' ? msg.state : previous.state,
      ...(reason !== undefined ? { reason } : {}),
      ...(this.lastStep.has(runId) ? { step: this.lastStep.get(runId) } : previous.step !== undefined ? { step: previous.step } : {}),
      ...(this.lastAccuracy.has(runId) ? { testAccuracy: this.lastAccuracy.get(runId) } : previous.testAccuracy !== undefined ? { testAccuracy: previous.testAccuracy } : {}),
      pid: process.pid,
      host: hostname(),
      updatedAt: new Date().toISOString(),
    };
    writeFileAtomic(join(this.dir(runId), 'status.json'), JSON.stringify(status) + '\n');
  }

  /** Opens (once) an append descriptor, first repairing what a crash mid-append may have left. */
  private appendDescriptor(map: Map<string, number>, runId: string, name: string): number {
    const open = map.get(runId);
    if (open !== undefined) return open;
    const dir = this.dir(runId);
    if (!existsSync(join(dir, 'config.json'))) throw new UserError('unknown_run', `no run ${runId} in ${this.root}`);
    const fd = openSync(join(dir, name), 'a+');
    const size = fstatSync(fd).size;
    if (name.endsWith('.jsonl') && size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) writeAll(fd, Buffer.from('\n'));
    } else if (name.endsWith('.f32') && size % 4 !== 0) {
      ftruncateSync(fd, size - (size % 4));
    }
    map.set(runId, fd);
    return fd;
  }
}

function rewind<T extends { step: number }>(list: T[], fromStep: number): void {
  while (list.length && list[list.length - 1].step >= fromStep) list.pop();
}

function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** Whether the process that last wrote a run's status still runs (same host only; another host is trusted). */
function processAlive(status: Status): boolean {
  if (status.pid === undefined) return false;
  if (status.host !== undefined && status.host !== hostname()) return true;
  if (status.pid === process.pid) return true;
  // Written before this machine booted: whatever process has that pid now is another one.
  const bootMs = Date.now() - uptime() * 1000;
  if (status.updatedAt !== undefined && Date.parse(status.updatedAt) < bootMs - 60_000) return false;
  try {
    process.kill(status.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One line of events.jsonl as a recorded message, or null (an empty or torn line: a crash mid-append). */
function storedEvent(line: string): StoredEvent | null {
  if (!line.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  const r = validateServerMessage(value);
  return r.ok && (r.message.type === 'metrics' || r.message.type === 'eval' || r.message.type === 'applied' || r.message.type === 'state' || r.message.type === 'stepHistogram' || r.message.type === 'plan') ? r.message : null;
}
