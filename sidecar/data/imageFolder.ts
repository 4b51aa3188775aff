// The image-folder layout torchvision's ImageFolder reads: DIR/train/<class>/* and DIR/test/<class>/*, one
// folder per CIFAR-10 class, label = the class's index in CLASS_NAMES. Files are taken in name order within
// a class and classes in label order, so the same folder always gives the same split. Decoded splits are
// cached (decodedCache.ts).

import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';
import { CLASS_NAMES, IMAGE_BYTES } from '../nn/spec';
import { readRegularFileSync } from '../regularFile';
import { cacheEntry, readCachedSplit, writeCachedSplit, type CacheEntry, type ListedFile } from './decodedCache';
import { checkImageFileSize, decodeImageInto, imageFileRead } from './decodeImage';
import { allocateSplit, yieldToEventLoop, type LoadContext, type Split } from './types';

const SPLITS = ['train', 'test'] as const;
const PROGRESS_EVERY = 1000;
const YIELD_EVERY = 100; // ~25 ms of decoding between event-loop turns

interface ListedImage extends ListedFile {
  path: string;
  label: number;
}

const LAYOUT_HINT = `expected DIR/train/<class>/ and DIR/test/<class>/ with the classes ${CLASS_NAMES.join(', ')}`;

export function looksLikeImageFolder(dir: string): boolean {
  return SPLITS.some((s) => isDirectory(join(dir, s)));
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// Every image of one split with its label, size and mtime; dotfiles (.DS_Store, ._*) are skipped.
function listSplit(dir: string, split: string): ListedImage[] {
  const splitDir = join(dir, split);
  if (!isDirectory(splitDir)) throw new UserError('bad_dataset', `missing ${split}/ folder in ${dir}: ${LAYOUT_HINT}`);
  const out: ListedImage[] = [];
  CLASS_NAMES.forEach((className, label) => {
    const classDir = join(splitDir, className);
    if (!isDirectory(classDir)) {
      throw new UserError('bad_dataset', `${splitDir} has no folder for the class '${className}': ${LAYOUT_HINT}`);
    }
    // Sorted by code units, not locale, so every machine sees the same order.
    const names = readdirSync(classDir).filter((n) => !n.startsWith('.')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (names.length === 0) throw new UserError('bad_dataset', `${classDir} is empty: each class folder needs images`);
    for (const name of names) {
      const path = join(classDir, name);
      const st = statSync(path);
      if (!st.isFile()) throw new UserError('bad_dataset', `${path} is not a file: a class folder must hold only images`);
      checkImageFileSize(path, st.size);
      out.push({ path, label, name: `${className}/${name}`, size: st.size, mtimeMs: st.mtimeMs });
    }
  });
  return out;
}

async function decodeSplit(files: ListedImage[], split: Split, ctx: LoadContext): Promise<void> {
  for (let i = 0; i < files.length; i++) {
    // Read as a bounded regular file: the listing's checks could be stale by now (a file swapped for a FIFO).
    decodeImageInto(readRegularFileSync(files[i].path, imageFileRead(files[i].path)), files[i].path, split.images, i * IMAGE_BYTES);
    split.labels[i] = files[i].label;
    if ((i + 1) % PROGRESS_EVERY === 0) ctx.onProgress({ phase: 'decode', done: i + 1, total: files.length });
    if ((i + 1) % YIELD_EVERY === 0) await yieldToEventLoop(ctx.signal);
  }
  if (files.length % PROGRESS_EVERY !== 0) ctx.onProgress({ phase: 'decode', done: files.length, total: files.length });
}

export interface LoadedImageFolder {
  train: Split;
  test: Split;
  cached: boolean; // both splits came from the decoded cache
}

/** An image folder listed and checked, not yet loaded: its identity, its counts, and how to load it. */
export interface ImageFolderPlan {
  key: string; // the real path and every file's name, size and mtime (data/pool.ts shares loads by it)
  trainCount: number;
  testCount: number;
  load(ctx: LoadContext): Promise<LoadedImageFolder>;
}

export function planImageFolder(dir: string, cacheDir: string): ImageFolderPlan {
  // Messages name the folder as the user gave it; the cache is keyed by where it really is (through links).
  const realDir = realpathSync(dir);
  const listed = SPLITS.map((s) => listSplit(dir, s)); // both listed (and checked) before any allocation
  const entries = SPLITS.map((s, i) => cacheEntry(cacheDir, realDir, s, listed[i]));
  // The decoded cache's keys already name the folder and its listing; their hash is the folder's identity.
  const key = createHash('sha256').update('images\0').update(entries[0].key).update(entries[1].key).digest('hex');
  return { key, trainCount: listed[0].length, testCount: listed[1].length, load: (ctx) => loadListed(listed, entries, cacheDir, ctx) };
}

export async function loadImageFolder(dir: string, cacheDir: string, ctx: LoadContext): Promise<LoadedImageFolder> {
  return planImageFolder(dir, cacheDir).load(ctx);
}

async function loadListed(listed: ListedImage[][], entries: CacheEntry[], cacheDir: string, ctx: LoadContext): Promise<LoadedImageFolder> {
  const splits: Split[] = [];
  let cached = true;
  for (let s = 0; s < SPLITS.length; s++) {
    const files = listed[s];
    // Allocated once at its final size; a cache miss decodes into the very same buffers.
    const split = allocateSplit(files.length, ctx.allocate);
    const entry = entries[s];
    if (await readCachedSplit(entry, split)) {
      ctx.onProgress({ phase: 'decode', done: files.length, total: files.length });
    } else {
      cached = false;
      await decodeSplit(files, split, ctx);
      try {
        await writeCachedSplit(entry, cacheDir, split);
      } catch (e) {
        // The cache only saves time; a read-only or full disk must not stop training.
        const why = (e as Error).message;
        ctx.notice(`could not cache the decoded ${SPLITS[s]} images in ${cacheDir} (${why}); they will be decoded again next time`);
      }
    }
    splits.push(split);
  }
  return { train: splits[0], test: splits[1], cached };
}
