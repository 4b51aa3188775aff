// Loading CIFAR-10 for a run: the cached official download (fetched first if need be, the shipped sample
// when it cannot be had), the shipped sample itself, or a folder the user names, in the official binary
// layout or as images. Whatever the source, each split is allocated once at its final size through the
// engine's allocator and filled in place: the training set alone is 153.6 MB and the whole experiment has
// to fit in 400 MB, so two copies must never coexist.

import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors';
import { findBatchFolder, loadBinaryLayout } from './binaryLayout';
import { CIFAR10_MD5, CIFAR10_URL, DownloadFailed, ensureCifar10 } from './download';
import { loadImageFolder, looksLikeImageFolder } from './imageFolder';
import { extractSample } from './sample';
import { defaultAllocate, type Allocate, type Dataset, type LoadContext, type Progress } from './types';

export type { Allocate, Dataset, Progress, Split } from './types';
export { extractSample, extractSampleSync, sampleArchive } from './sample';

export interface LoadOptions {
  data?: string; // undefined = the cached download; 'sample' = the shipped sample, extracted into cacheDir (a folder so named: ./sample)
  cacheDir: string; // downloads and decoded caches (created if missing)
  allocate?: Allocate;
  onProgress?: (p: Progress) => void;
  notice?: (line: string) => void; // one-line notices; the command line prints them to stderr
  signal?: AbortSignal;
  downloadUrl?: string; // default: the official archive; tests point it at a loopback server
  expectedMd5?: string;
  maxDownloadBytes?: number; // default: download.ts MAX_ARCHIVE_BYTES
  fallbackToSample?: boolean; // default true: a failed download trains on the sample, after a notice
}

const count = (n: number) => n.toLocaleString('en-US');

async function loadSample(cacheDir: string, ctx: LoadContext): Promise<Dataset> {
  const { train, test } = await loadImageFolder(await extractSample(cacheDir), cacheDir, ctx);
  return { train, test, source: `built-in sample (${count(train.count)} train / ${count(test.count)} test images)` };
}

async function loadFolder(data: string, cacheDir: string, ctx: LoadContext): Promise<Dataset> {
  if (data.includes('\0')) throw new UserError('bad_dataset', 'the dataset path must not contain NUL bytes');
  const dir = resolve(data);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UserError('bad_dataset', `no such dataset folder: ${dir}`);
  }
  if (!isDir) throw new UserError('bad_dataset', `${dir} is not a folder: --data takes a dataset folder, or "sample"`);
  const batchFolder = findBatchFolder(dir);
  if (batchFolder) {
    return { ...(await loadBinaryLayout(batchFolder, ctx)), source: `CIFAR-10 binary at ${batchFolder}` };
  }
  if (looksLikeImageFolder(dir)) {
    const { train, test, cached } = await loadImageFolder(dir, cacheDir, ctx);
    return { train, test, source: `image folder ${dir}${cached ? ' (cached)' : ''}` };
  }
  throw new UserError('bad_dataset',
    `${dir} is neither the CIFAR-10 binary layout (data_batch_1.bin .. test_batch.bin, or a cifar-10-batches-bin folder) ` +
      'nor an image folder (train/<class>/ and test/<class>/)');
}

async function loadDownloaded(opts: LoadOptions, ctx: LoadContext): Promise<Dataset> {
  let batchFolder: string;
  try {
    batchFolder = await ensureCifar10({
      cacheDir: opts.cacheDir,
      url: opts.downloadUrl ?? CIFAR10_URL,
      md5: opts.expectedMd5 ?? CIFAR10_MD5,
      onProgress: ctx.onProgress,
      signal: opts.signal,
      notice: ctx.notice,
      ...(opts.maxDownloadBytes !== undefined ? { maxBytes: opts.maxDownloadBytes } : {}),
    });
  } catch (e) {
    if (!(e instanceof DownloadFailed) || opts.fallbackToSample === false) throw e;
    // A newcomer's first command must train even offline (DESIGN.md, "Command line").
    const sample = await loadSample(opts.cacheDir, ctx);
    ctx.notice(
      `CIFAR-10 download unavailable (${e.reason}); training on the built-in sample of ` +
        `${count(sample.train.count + sample.test.count)} real CIFAR-10 images instead. Use --data DIR for the full set.`,
    );
    return sample;
  }
  return { ...(await loadBinaryLayout(batchFolder, ctx)), source: `CIFAR-10 binary at ${batchFolder}` };
}

export async function loadDataset(opts: LoadOptions): Promise<Dataset> {
  mkdirSync(opts.cacheDir, { recursive: true });
  const ctx: LoadContext = {
    allocate: opts.allocate ?? defaultAllocate,
    onProgress: opts.onProgress ?? (() => undefined),
    notice: opts.notice ?? (() => undefined),
    signal: opts.signal,
  };
  if (opts.data === undefined) return loadDownloaded(opts, ctx);
  if (opts.data === 'sample') return loadSample(opts.cacheDir, ctx);
  return loadFolder(opts.data, opts.cacheDir, ctx);
}
