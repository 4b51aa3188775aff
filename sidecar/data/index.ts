// Loading CIFAR-10 for a run: the cached official download (fetched first if need be, the shipped sample
// when it cannot be had), the shipped sample itself, or a folder the user names, in the official binary
// layout or as images. Whatever the source, each split is allocated once at its final size through the
// engine's allocator and filled in place: the training set alone is 153.6 MB and the whole experiment has
// to fit in 400 MB, so two copies must never coexist. Runs resolve their data first (found, checked, named by
// a key) and load it through pool.ts, so runs of the same data in one process share one copy.

import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors';
import { binaryLayoutKey, findBatchFolder, loadBinaryLayout } from './binaryLayout';
import { CIFAR10_MD5, CIFAR10_URL, DownloadFailed, ensureCifar10 } from './download';
import { looksLikeImageFolder, planImageFolder } from './imageFolder';
import { extractSample } from './sample';
import { defaultAllocate, type Allocate, type Dataset, type LoadContext, type Progress, type ResolvedDataset } from './types';

export type { Allocate, Dataset, Progress, ResolvedDataset, Split } from './types';

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

// Resolving a dataset finds it (downloading or extracting if need be), checks its layout and computes its
// identity, without loading a byte of it: runs of the same data then share one load (pool.ts).
type Hooks = Omit<LoadContext, 'allocate'>;

async function resolveSample(cacheDir: string): Promise<ResolvedDataset & { images: number }> {
  const plan = planImageFolder(await extractSample(cacheDir), cacheDir);
  return {
    key: plan.key,
    images: plan.trainCount + plan.testCount,
    load: async (ctx) => {
      const { train, test } = await plan.load(ctx);
      return { train, test, source: `built-in sample (${count(train.count)} train / ${count(test.count)} test images)` };
    },
  };
}

function resolveFolder(data: string, cacheDir: string): ResolvedDataset {
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
  if (batchFolder) return binaryDataset(batchFolder);
  if (looksLikeImageFolder(dir)) {
    const plan = planImageFolder(dir, cacheDir);
    return {
      key: plan.key,
      load: async (ctx) => {
        const { train, test, cached } = await plan.load(ctx);
        return { train, test, source: `image folder ${dir}${cached ? ' (cached)' : ''}` };
      },
    };
  }
  throw new UserError('bad_dataset',
    `${dir} is neither the CIFAR-10 binary layout (data_batch_1.bin .. test_batch.bin, or a cifar-10-batches-bin folder) ` +
      'nor an image folder (train/<class>/ and test/<class>/)');
}

function binaryDataset(batchFolder: string): ResolvedDataset {
  return {
    key: binaryLayoutKey(batchFolder),
    load: async (ctx) => ({ ...(await loadBinaryLayout(batchFolder, ctx)), source: `CIFAR-10 binary at ${batchFolder}` }),
  };
}

async function resolveDownloaded(opts: LoadOptions, hooks: Hooks): Promise<ResolvedDataset> {
  let batchFolder: string;
  try {
    batchFolder = await ensureCifar10({
      cacheDir: opts.cacheDir,
      url: opts.downloadUrl ?? CIFAR10_URL,
      md5: opts.expectedMd5 ?? CIFAR10_MD5,
      onProgress: hooks.onProgress,
      signal: opts.signal,
      notice: hooks.notice,
      ...(opts.maxDownloadBytes !== undefined ? { maxBytes: opts.maxDownloadBytes } : {}),
    });
  } catch (e) {
    if (!(e instanceof DownloadFailed) || opts.fallbackToSample === false) throw e;
    // A newcomer's first command must train even offline (DESIGN.md, "Command line").
    const sample = await resolveSample(opts.cacheDir);
    hooks.notice(
      `CIFAR-10 download unavailable (${e.reason}); training on the built-in sample of ` +
        `${count(sample.images)} real CIFAR-10 images instead. Use --data DIR for the full set.`,
    );
    return sample;
  }
  return binaryDataset(batchFolder);
}

function hooksOf(opts: LoadOptions): Hooks {
  return { onProgress: opts.onProgress ?? (() => undefined), notice: opts.notice ?? (() => undefined), signal: opts.signal };
}

/** Finds the dataset `opts` names and says what it is (its key) and how to load it; loads nothing. */
export async function resolveDataset(opts: LoadOptions): Promise<ResolvedDataset> {
  mkdirSync(opts.cacheDir, { recursive: true });
  if (opts.data === undefined) return resolveDownloaded(opts, hooksOf(opts));
  if (opts.data === 'sample') return resolveSample(opts.cacheDir);
  return resolveFolder(opts.data, opts.cacheDir);
}

/** Resolves and loads a private copy (one not shared with runs: the PyTorch export, tests). */
export async function loadDataset(opts: LoadOptions): Promise<Dataset> {
  const resolved = await resolveDataset(opts);
  return resolved.load({ allocate: opts.allocate ?? defaultAllocate, ...hooksOf(opts) });
}
