// One download of CIFAR-10 per cache folder at a time, across processes (two windows, a window and a terminal)
// and within one (a comparison starts its runs together). The folder holds `.cifar-10-download.lock` while a
// process downloads into it: a small JSON file {pid, host, heartbeatAt}, created exclusively and rewritten every
// few seconds. Others wait for it to go away, then find the data in place. A lock whose writer is gone (the run
// lock's rule, store/runLock.ts: a dead process on this host, or no heartbeat for 30 s) is broken and taken.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HEARTBEAT_MS, heldByAnother } from '../store/runLock';

export const DOWNLOAD_LOCK = '.cifar-10-download.lock';
const POLL_MS = 250;

interface LockFile {
  pid: number;
  host: string;
  heartbeatAt: number;
  token: string; // which taking of the lock this is, so that breaking a stale lock never removes a fresh one
}

export interface HeldLock {
  release(): Promise<void>;
}

// Within a process, the cache folders being downloaded into and the end of their download.
const inProcess = new Map<string, Promise<void>>();

/**
 * Waits until no one else downloads into `cacheDir`, then holds its lock until `release`. `signal` ends the wait.
 * `waiting` is called once if the wait is for another process.
 */
export async function lockDownloads(cacheDir: string, signal?: AbortSignal, waiting?: () => void): Promise<HeldLock> {
  // First the other downloads of this process, one at a time.
  for (let ahead = inProcess.get(cacheDir); ahead; ahead = inProcess.get(cacheDir)) await abortable(ahead, signal);
  let done!: () => void;
  inProcess.set(cacheDir, new Promise<void>((resolve) => (done = resolve)));
  const releaseHere = () => {
    inProcess.delete(cacheDir);
    done();
  };
  try {
    const lock = await takeFileLock(join(cacheDir, DOWNLOAD_LOCK), signal, waiting);
    return { release: () => lock.release().finally(releaseHere) };
  } catch (e) {
    releaseHere();
    throw e;
  }
}

async function takeFileLock(file: string, signal: AbortSignal | undefined, waiting?: () => void): Promise<HeldLock> {
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    const token = randomBytes(8).toString('hex');
    try {
      const handle = await fsp.open(file, 'wx', 0o644);
      await handle.close();
      await write(file, token);
      const timer = setInterval(() => void write(file, token).catch(() => undefined), HEARTBEAT_MS);
      timer.unref();
      return {
        release: async () => {
          clearInterval(timer);
          if ((await read(file))?.token === token) await fsp.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = await read(file);
    // A lock just created is empty until its writer fills it in: it is fresh, not torn.
    const justCreated = held === null && (await ageMs(file)) < HEARTBEAT_MS;
    if (held && heldByAnother(held)) {
      if (!told) { told = true; waiting?.(); }
      await delay(POLL_MS, signal);
    } else if (justCreated) {
      await delay(POLL_MS, signal);
    } else {
      await breakStale(file, held?.token);
    }
  }
}

// Moves the stale lock aside before removing it: if it turns out to be a fresh one (someone broke the stale lock and
// took the folder in between), it is put back.
async function breakStale(file: string, staleToken: string | undefined): Promise<void> {
  const aside = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.stale`;
  try {
    await fsp.rename(file, aside);
  } catch {
    return; // gone already
  }
  const moved = await read(aside);
  if (moved !== null && moved.token !== staleToken && heldByAnother(moved)) await fsp.link(aside, file).catch(() => undefined);
  await fsp.rm(aside, { force: true });
}

async function read(file: string): Promise<LockFile | null> {
  try {
    const v = JSON.parse(await fsp.readFile(file, 'utf8')) as Partial<LockFile>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.heartbeatAt === 'number' && typeof v.token === 'string') return v as LockFile;
  } catch {
    // missing, empty or torn
  }
  return null;
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await fsp.stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

// Written whole and renamed over the lock, so a reader never sees half of it.
async function write(file: string, token: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(temp, JSON.stringify({ pid: process.pid, host: hostname(), heartbeatAt: Date.now(), token } satisfies LockFile));
  await fsp.rename(temp, file);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return abortable(new Promise<void>((resolve) => setTimeout(resolve, ms)), signal);
}

function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
