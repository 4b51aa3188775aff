// One process at a time trains a run: its folder holds `lock`, a small JSON file {pid, host, heartbeatAt} created
// exclusively and rewritten every few seconds while the run lives here. Another process may take the run only when
// the lock is stale: its heartbeat is older than STALE_MS (whatever the pid or host says: a pid is reused, another
// host cannot be asked), or it was written on this host by a process that is gone (a kill -9: then the run can be
// resumed at once, as the extension does after a crash).
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors';

export const HEARTBEAT_MS = 5_000;
export const STALE_MS = 30_000;
const LOCK = 'lock';

interface LockFile {
  pid: number;
  host: string;
  heartbeatAt: number; // ms since the epoch
}

/** The lock of a run folder as written, or null when there is none (or it is unreadable: a torn write is stale). */
function readLock(dir: string): LockFile | null {
  try {
    const v = JSON.parse(readFileSync(join(dir, LOCK), 'utf8')) as Partial<LockFile>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.heartbeatAt === 'number') return v as LockFile;
  } catch {
    // no lock, or a torn one
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `lock` was written by another process that still holds the run. */
export function heldByAnother(lock: LockFile | null, now = Date.now()): boolean {
  if (!lock) return false;
  if (lock.pid === process.pid && lock.host === hostname()) return false;
  if (now - lock.heartbeatAt > STALE_MS) return false;
  if (lock.host === hostname() && !alive(lock.pid)) return false;
  return true;
}

export class RunLocks {
  private readonly held = new Map<string, string>(); // runId -> folder
  private timer: NodeJS.Timeout | null = null;

  /** Takes the run's lock, or throws run_busy naming the process that holds it. Taking a lock one holds is a no-op. */
  acquire(runId: string, dir: string): void {
    if (this.held.has(runId)) return;
    const existing = readLock(dir);
    if (heldByAnother(existing)) {
      throw new UserError('run_busy', `run ${runId} is being trained by another process (pid ${existing!.pid} on ${existing!.host}, seen ${Math.round((Date.now() - existing!.heartbeatAt) / 1000)} s ago); stop it there, or fork it`);
    }
    if (!existing) {
      // Exclusive creation: of two processes taking a free run at once, one gets EEXIST here.
      try {
        closeSync(openSync(join(dir, LOCK), 'wx'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return this.acquire(runId, dir);
        throw e;
      }
    }
    this.write(dir);
    this.held.set(runId, dir);
    if (!this.timer) {
      this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
      this.timer.unref();
    }
  }

  release(runId: string): void {
    const dir = this.held.get(runId);
    if (!dir) return;
    this.held.delete(runId);
    rmSync(join(dir, LOCK), { force: true });
    if (this.held.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  runIds(): string[] {
    return [...this.held.keys()];
  }

  /** Whether another process holds the run in `dir`. */
  static heldElsewhere(dir: string): boolean {
    return heldByAnother(readLock(dir));
  }

  private beat(): void {
    for (const dir of this.held.values()) {
      try {
        this.write(dir);
      } catch {
        // a folder deleted under us: the run is gone; nothing to keep alive
      }
    }
  }

  private write(dir: string): void {
    const tmp = join(dir, `${LOCK}.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), heartbeatAt: Date.now() } satisfies LockFile));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, LOCK));
  }
}
