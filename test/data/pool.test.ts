// One loaded copy of a dataset per process (sidecar/data/pool.ts), on real dataset folders: runs of the same data
// share it, different data (or the same folder changed) never does, and it is dropped with its last run.
import assert from 'node:assert/strict';
import { truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveDataset } from '../../sidecar/data';
import { DatasetPool } from '../../sidecar/data/pool';
import { batchFile, tempDir, writeBinaryLayout, writeImageFolder } from './helpers';

const resolveIn = (cacheDir: string) => (data: string) => resolveDataset({ data, cacheDir });

test('two runs of the same folder at once load it once and read the very same bytes', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'bin'));
  const resolve = resolveIn(join(dir, 'cache'));
  const pool = new DatasetPool();
  const progress: number[][] = [[], []];
  const [a, b] = await Promise.all([0, 1].map(async (i) => pool.acquire(await resolve(join(dir, 'bin')), { onProgress: (p) => progress[i].push(p.done) })));
  assert.equal(pool.stats().loads, 1);
  assert.equal(a.arena, b.arena);
  assert.equal(a.dataset.train.images.byteOffset, b.dataset.train.images.byteOffset);
  assert.equal(a.dataset.train.images.buffer, b.dataset.train.images.buffer);
  assert.deepEqual([...a.dataset.train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(progress[0], progress[1], 'the run that joined the load hears its progress too');
  assert.deepEqual(pool.stats().datasets.map((d) => d.runs), [2]);
  a.release();
  b.release();
});

test('different data never shares: another folder, another layout, or the same folder changed since', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'one'));
  writeBinaryLayout(join(dir, 'two'));
  writeImageFolder(join(dir, 'images'));
  const resolve = resolveIn(join(dir, 'cache'));
  const pool = new DatasetPool();
  const one = await pool.acquire(await resolve(join(dir, 'one')));
  const two = await pool.acquire(await resolve(join(dir, 'two')));
  const images = await pool.acquire(await resolve(join(dir, 'images')));
  assert.equal(pool.stats().loads, 3, 'two copies of the same bytes in two folders are two datasets');
  assert.equal(new Set([one.arena, two.arena, images.arena]).size, 3);
  // Rewritten in place with other pixels (and a new modification time): a run started now must see the new data.
  writeFileSync(join(dir, 'one', 'data_batch_1.bin'), batchFile([7, 7], 99));
  utimesSync(join(dir, 'one', 'data_batch_1.bin'), new Date(), new Date(Date.now() + 5000));
  const changed = await pool.acquire(await resolve(join(dir, 'one')));
  assert.equal(pool.stats().loads, 4);
  assert.notEqual(changed.arena, one.arena);
  assert.deepEqual([...changed.dataset.train.labels.subarray(0, 2)], [7, 7]);
  assert.deepEqual([...one.dataset.train.labels.subarray(0, 2)], [0, 1], 'the run already training keeps the data it started with');
  for (const l of [one, two, images, changed]) l.release();
  assert.deepEqual(pool.stats().datasets, []);
});

test('a run that ends leaves the data to the runs still using it; the last one frees it, and the next run loads again', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(join(dir, 'images'));
  const resolve = resolveIn(join(dir, 'cache'));
  const logged: string[] = [];
  const pool = new DatasetPool();
  pool.log = (line) => logged.push(line);
  const leases = [];
  for (let i = 0; i < 3; i++) leases.push(await pool.acquire(await resolve(join(dir, 'images'))));
  const pixels = Buffer.from(leases[2].dataset.train.images).toString('hex');
  leases[0].release();
  leases[0].release(); // twice is once
  leases[1].release();
  assert.deepEqual(pool.stats().datasets.map((d) => d.runs), [1]);
  assert.equal(Buffer.from(leases[2].dataset.train.images).toString('hex'), pixels);
  leases[2].release();
  assert.deepEqual(pool.stats(), { loads: 1, datasets: [] });
  assert.equal(logged.filter((l) => l.startsWith('loaded image folder')).length, 1, logged.join('\n'));
  assert.equal(logged.filter((l) => l.startsWith('released image folder')).length, 1, logged.join('\n'));
  const again = await pool.acquire(await resolve(join(dir, 'images')));
  assert.equal(pool.stats().loads, 2);
  again.release();
});

test('a run stopped while the data loads leaves the load to the others; when every run has gone, the load stops', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'bin'));
  const resolve = resolveIn(join(dir, 'cache'));
  const pool = new DatasetPool();
  const first = new AbortController();
  const firstLease = pool.acquire(await resolve(join(dir, 'bin')), { signal: first.signal });
  const second = pool.acquire(await resolve(join(dir, 'bin')));
  first.abort(new Error('stopped by the user'));
  await assert.rejects(firstLease, /stopped by the user/);
  const lease = await second;
  assert.equal(lease.dataset.train.count, 10);
  lease.release();

  const alone = new AbortController();
  const lone = pool.acquire(await resolve(join(dir, 'bin')), { signal: alone.signal });
  alone.abort(new Error('stopped'));
  await assert.rejects(lone, /stopped/);
  assert.deepEqual(pool.stats().datasets, []);
  const next = await pool.acquire(await resolve(join(dir, 'bin')));
  assert.equal(next.dataset.test.count, 3, 'the abandoned load is not kept half done');
  next.release();
});

test('a load that fails fails every run waiting for it, names the file, and is not kept', async (t) => {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'bin'));
  const resolve = resolveIn(join(dir, 'cache'));
  const pool = new DatasetPool();
  const resolved = await resolve(join(dir, 'bin'));
  truncateSync(join(dir, 'bin', 'data_batch_3.bin'), 100); // damaged between the check and the load
  const results = await Promise.allSettled([pool.acquire(resolved), pool.acquire(resolved)]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.match(String((r as PromiseRejectedResult).reason.message), /data_batch_3\.bin/);
  }
  assert.deepEqual(pool.stats().datasets, []);
  writeBinaryLayout(join(dir, 'bin'));
  const lease = await pool.acquire(await resolve(join(dir, 'bin')));
  assert.equal(pool.stats().loads, 2);
  lease.release();
});
