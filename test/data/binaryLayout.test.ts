import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadDataset } from '../../sidecar/data/index';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { RECORD_BYTES, batchFile, pixel, rejectsWith, tempDir, writeBinaryLayout } from './helpers';

test('the binary layout loads every record with its label and its pixels, batches in order', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'bin'));
  const d = await loadDataset({ data: join(dir, 'bin'), cacheDir: join(dir, 'cache') });
  assert.equal(d.train.count, 10);
  assert.equal(d.test.count, 3);
  assert.deepEqual([...d.train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...d.test.labels], [9, 0, 5]);
  assert.equal(d.train.images.length, 10 * IMAGE_BYTES);
  for (let k = 0; k < 10; k++) {
    for (const i of [0, 1, 1023, 1024, 2048, 3071]) assert.equal(d.train.images[k * IMAGE_BYTES + i], pixel(k, i));
  }
  assert.equal(d.test.images[2 * IMAGE_BYTES + 5], pixel(2, 5));
  assert.equal(d.source, `CIFAR-10 binary at ${join(dir, 'bin')}`);
});

test('a folder holding cifar-10-batches-bin/ loads as the binary layout', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'cifar-10-batches-bin'));
  const d = await loadDataset({ data: dir, cacheDir: join(dir, 'cache') });
  assert.equal(d.train.count, 10);
  assert.equal(d.source, `CIFAR-10 binary at ${join(dir, 'cifar-10-batches-bin')}`);
});

test('each split is allocated once, at its final size, through the given allocator', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(dir);
  const sizes: number[] = [];
  await loadDataset({ data: dir, cacheDir: join(dir, 'cache'), allocate: (n) => (sizes.push(n), new Uint8Array(n)) });
  assert.deepEqual(sizes, [10 * IMAGE_BYTES, 10, 3 * IMAGE_BYTES, 3]);
});

test('a truncated batch file is refused with its name and size', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(dir);
  truncateSync(join(dir, 'data_batch_3.bin'), 2 * RECORD_BYTES - 10);
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset',
    join(dir, 'data_batch_3.bin'), 'truncated: 6,136 bytes is not a whole number of 3,073-byte records');
});

test('a label byte above 9 is refused with the file and record', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(dir);
  writeFileSync(join(dir, 'test_batch.bin'), batchFile([1, 12], 0));
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset',
    join(dir, 'test_batch.bin'), 'record 1 has label 12');
});

test('an empty batch file is refused with its name', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(dir);
  writeFileSync(join(dir, 'data_batch_1.bin'), '');
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', join(dir, 'data_batch_1.bin'), 'empty');
});

test('a missing batch file is named', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(dir);
  rmSync(join(dir, 'test_batch.bin'));
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `missing ${join(dir, 'test_batch.bin')}`);
});

test('a folder in neither layout, or no folder at all, is refused with its path', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'photos'));
  await rejectsWith(loadDataset({ data: join(dir, 'photos'), cacheDir: join(dir, 'cache') }), 'bad_dataset',
    join(dir, 'photos'), 'neither the CIFAR-10 binary layout');
  await rejectsWith(loadDataset({ data: join(dir, 'nowhere'), cacheDir: join(dir, 'cache') }), 'bad_dataset',
    `no such dataset folder: ${join(dir, 'nowhere')}`);
});
