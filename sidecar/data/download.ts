// The official archive, fetched once into the cache folder: downloaded to a .partial file of its own, its MD5 checked
// before anything is extracted, renamed, checked again, then extracted into a temporary folder that is renamed into
// place. So cacheDir/cifar-10-batches-bin exists only when complete, and a partial or corrupt download is never used.
// One process downloads into a cache folder at a time (downloadLock.ts): "Compare Adam with SGD" on a fresh install
// starts two runs that both need the data, and the second waits for the first's download instead of racing it.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { UserError } from '../errors';
import { BATCH_FOLDER, TEST_FILES, TRAIN_FILES, isCompleteBatchFolder } from './binaryLayout';
import { lockDownloads } from './downloadLock';
import { HttpDownloadError, httpDownload } from './httpDownload';
import type { Progress } from './types';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const ARCHIVE_NAME = 'cifar-10-binary.tar.gz';
/** The official archive is 170,052,171 bytes: a server that sends much more is not sending it. */
export const MAX_ARCHIVE_BYTES = 256 << 20;
const STALL_TIMEOUT_MS = 30_000;
const ATTEMPTS = 2; // one retry

// A download_failed UserError that also carries the short reason for the offline notice.
export class DownloadFailed extends UserError {
  constructor(readonly reason: string, url: string) {
    super('download_failed', `could not download CIFAR-10 from ${url}: ${reason}. Check the network, or pass --data DIR`);
  }
}

export interface DownloadOptions {
  cacheDir: string;
  url: string;
  md5: string;
  onProgress: (p: Progress) => void;
  signal?: AbortSignal;
  maxBytes?: number; // default MAX_ARCHIVE_BYTES
  notice?: (line: string) => void;
}

// A cancelled load ends with the signal's own reason (an AbortError), never as a failed download: the
// caller asked for it, so there is nothing to report and no sample to fall back to.
function throwIfCancelled(e: unknown, signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason;
  if ((e as Error)?.name === 'AbortError') throw e;
}

function shortReason(e: unknown): string {
  return e instanceof HttpDownloadError ? e.reason : ((e as Error)?.message ?? String(e));
}

async function fileMd5(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// Downloads to a .partial file named for this process and attempt (never resumed from bytes of unknown origin),
// renames it to the archive only when the checksum matches, and checks the archive once more after the rename.
async function downloadArchive(opts: DownloadOptions, archive: string): Promise<void> {
  let lastReason = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const partial = `${archive}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
    try {
      const got = await httpDownload(opts.url, partial, {
        timeoutMs: STALL_TIMEOUT_MS,
        maxBytes: opts.maxBytes ?? MAX_ARCHIVE_BYTES,
        signal: opts.signal,
        onProgress: (done, total) => opts.onProgress({ phase: 'download', done, total }),
      });
      if (got !== opts.md5) throw new HttpDownloadError(`checksum mismatch: expected MD5 ${opts.md5}, got ${got}`);
      await fsp.rename(partial, archive);
      const renamed = await fileMd5(archive);
      if (renamed !== opts.md5) {
        await fsp.rm(archive, { force: true });
        throw new HttpDownloadError(`checksum mismatch after renaming the download into place: expected MD5 ${opts.md5}, got ${renamed}`);
      }
      return;
    } catch (e) {
      await fsp.rm(partial, { force: true });
      throwIfCancelled(e, opts.signal);
      lastReason = shortReason(e);
      if (e instanceof HttpDownloadError && e.permanent) break;
    }
  }
  throw new DownloadFailed(lastReason, opts.url);
}

// Only regular files under cifar-10-batches-bin/ are taken from the archive: no links, nothing elsewhere
// (tar itself already refuses absolute paths and '..').
async function extractArchive(opts: DownloadOptions, archive: string): Promise<void> {
  const temp = await fsp.mkdtemp(join(opts.cacheDir, '.extract-'));
  try {
    const wanted = new Set([...TRAIN_FILES, ...TEST_FILES].map((f) => `${BATCH_FOLDER}/${f}`));
    const clean = (p: string) => p.replace(/^\.\//, '');
    let done = 0;
    opts.onProgress({ phase: 'extract', done, total: wanted.size });
    await tar.x({
      file: archive,
      cwd: temp,
      filter: (path, entry) =>
        clean(path).startsWith(`${BATCH_FOLDER}/`) && 'type' in entry && (entry.type === 'File' || entry.type === 'OldFile'),
      onReadEntry: (entry) => {
        if (!wanted.has(clean(entry.path))) return;
        entry.on('end', () => opts.onProgress({ phase: 'extract', done: ++done, total: wanted.size }));
      },
    });
    const extracted = join(temp, BATCH_FOLDER);
    if (!isCompleteBatchFolder(extracted)) {
      throw new DownloadFailed(`the archive does not hold a complete ${BATCH_FOLDER}/ folder`, opts.url);
    }
    await fsp.rename(extracted, join(opts.cacheDir, BATCH_FOLDER));
  } catch (e) {
    throwIfCancelled(e, opts.signal);
    if (e instanceof UserError) throw e;
    throw new DownloadFailed(`could not extract ${archive} (${(e as Error).message})`, opts.url);
  } finally {
    await fsp.rm(temp, { recursive: true, force: true });
  }
}

// The folder holding the six .bin files, downloading and extracting them first if need be.
export async function ensureCifar10(opts: DownloadOptions): Promise<string> {
  const batchFolder = join(opts.cacheDir, BATCH_FOLDER);
  if (isCompleteBatchFolder(batchFolder)) return batchFolder;
  mkdirSync(opts.cacheDir, { recursive: true });
  const lock = await lockDownloads(opts.cacheDir, opts.signal, () => opts.notice?.(`waiting for another process to download CIFAR-10 into ${opts.cacheDir}`));
  try {
    if (isCompleteBatchFolder(batchFolder)) return batchFolder; // the download waited for did it
    await removeAbandonedPartials(opts.cacheDir);
    await fsp.rm(batchFolder, { recursive: true, force: true }); // incomplete: someone removed files from it
    const archive = join(opts.cacheDir, ARCHIVE_NAME);
    if (!existsSync(archive) || (await fileMd5(archive)) !== opts.md5) await downloadArchive(opts, archive);
    await extractArchive(opts, archive);
    return batchFolder;
  } finally {
    await lock.release();
  }
}

// Under the lock no one else downloads here: every .partial file is what a killed download left.
async function removeAbandonedPartials(cacheDir: string): Promise<void> {
  for (const name of await fsp.readdir(cacheDir)) {
    if (name.startsWith(`${ARCHIVE_NAME}.`) && name.endsWith('.partial')) await fsp.rm(join(cacheDir, name), { force: true });
  }
}
