// The official CIFAR-10 binary layout (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1.bin ..
// data_batch_5.bin and test_batch.bin, each a run of 3,073-byte records: one label byte, then 3,072 pixel
// bytes already in our C, H, W order. Either DIR holds them or DIR/cifar-10-batches-bin does.

import { createHash } from 'node:crypto';
import { promises as fsp, realpathSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';
import { IMAGE_BYTES, NUM_CLASSES } from '../nn/spec';
import { allocateSplit, yieldToEventLoop, type LoadContext, type Split } from './types';

export const RECORD_BYTES = 1 + IMAGE_BYTES; // 3,073
export const TRAIN_FILES = [1, 2, 3, 4, 5].map((n) => `data_batch_${n}.bin`);
export const TEST_FILES = ['test_batch.bin'];
export const BATCH_FOLDER = 'cifar-10-batches-bin';
const ALL_FILES = [...TRAIN_FILES, ...TEST_FILES];
const CHUNK_RECORDS = 1024; // ~3 MB read buffer, reused, so a split is never held twice

// The folder holding the .bin files if DIR looks like the binary layout (even an incomplete one, so that a
// missing file is reported as missing rather than as "not a dataset"); undefined otherwise.
export function findBatchFolder(dir: string): string | undefined {
  for (const candidate of [dir, join(dir, BATCH_FOLDER)]) {
    if (ALL_FILES.some((f) => existsSync(join(candidate, f)))) return candidate;
  }
  if (existsSync(join(dir, BATCH_FOLDER))) return join(dir, BATCH_FOLDER);
  return undefined;
}

// Records in one batch file, or a UserError that names the file and says what is wrong with it.
function recordCount(file: string): number {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UserError('bad_dataset', `${file} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError('bad_dataset', `missing ${file}: the CIFAR-10 binary layout needs ${ALL_FILES.join(', ')}`);
  }
  if (size === 0) throw new UserError('bad_dataset', `${file} is empty (0 bytes)`);
  if (size % RECORD_BYTES !== 0) {
    throw new UserError('bad_dataset',
      `${file} is truncated: ${size.toLocaleString('en-US')} bytes is not a whole number of 3,073-byte records`);
  }
  return size / RECORD_BYTES;
}

// A cheap completeness check (all six files, whole records) for the cached download.
export function isCompleteBatchFolder(dir: string): boolean {
  try {
    for (const f of ALL_FILES) recordCount(join(dir, f));
    return true;
  } catch {
    return false;
  }
}

async function readSplit(dir: string, files: string[], ctx: LoadContext, chunk: Uint8Array): Promise<Split> {
  const paths = files.map((f) => join(dir, f));
  const counts = paths.map(recordCount); // every file checked before the one big allocation
  const total = counts.reduce((a, b) => a + b, 0);
  const split = allocateSplit(total, ctx.allocate);
  let index = 0;
  for (let f = 0; f < paths.length; f++) {
    const handle = await fsp.open(paths[f], 'r');
    try {
      for (let first = 0; first < counts[f]; first += CHUNK_RECORDS) {
        const n = Math.min(CHUNK_RECORDS, counts[f] - first);
        const want = n * RECORD_BYTES;
        const { bytesRead } = await handle.read(chunk, 0, want, first * RECORD_BYTES);
        if (bytesRead !== want) throw new UserError('bad_dataset', `${paths[f]} changed while it was being read`);
        for (let r = 0; r < n; r++, index++) {
          const at = r * RECORD_BYTES;
          const label = chunk[at];
          if (label >= NUM_CLASSES) {
            throw new UserError('bad_dataset',
              `${paths[f]} record ${(first + r).toLocaleString('en-US')} has label ${label}; CIFAR-10 labels are 0-9`);
          }
          split.labels[index] = label;
          split.images.set(chunk.subarray(at + 1, at + RECORD_BYTES), index * IMAGE_BYTES);
        }
        await yieldToEventLoop(ctx.signal);
      }
    } finally {
      await handle.close();
    }
    ctx.onProgress({ phase: 'decode', done: index, total });
  }
  return split;
}

export async function loadBinaryLayout(dir: string, ctx: LoadContext): Promise<{ train: Split; test: Split }> {
  // Check the test files too before allocating 150 MB for the training set.
  for (const f of TEST_FILES) recordCount(join(dir, f));
  const chunk = new Uint8Array(CHUNK_RECORDS * RECORD_BYTES);
  const train = await readSplit(dir, TRAIN_FILES, ctx, chunk);
  const test = await readSplit(dir, TEST_FILES, ctx, chunk);
  return { train, test };
}

/**
 * The folder's identity for sharing one load between runs (data/pool.ts): its real path and each file's size,
 * modification time and inode, checked as the load checks them. A file replaced or rewritten gives a new key.
 */
export function binaryLayoutKey(dir: string): string {
  const hash = createHash('sha256').update('binary\0').update(realpathSync(dir));
  for (const f of ALL_FILES) {
    const file = join(dir, f);
    recordCount(file);
    const st = statSync(file);
    hash.update(`\0${f}\0${st.size}\0${st.mtimeMs}\0${st.ino}`);
  }
  return hash.digest('hex');
}
