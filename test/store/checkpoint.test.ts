import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../sidecar/errors';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { decodeCheckpoint, encodeCheckpoint, MAX_CHECKPOINT_BYTES, readCheckpoint, readCheckpointAsync, writeCheckpointAtomic } from '../../sidecar/store/checkpoint';
import { sampleState, tempDir } from './helpers';

function refused(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.code, 'bad_checkpoint');
    assert.match(e.message, pattern);
    return true;
  };
}

test('a checkpoint round-trips every field bit for bit', () => {
  const state = sampleState({ parentRunId: 'parent-1', forkStep: 100, datasetId: 'sample:2000' });
  const back = decodeCheckpoint(encodeCheckpoint(state), 'x.ckpt');
  assert.deepEqual(back, state);
  assert.equal(back.params.length, PARAMETER_COUNT);
});

test('a diverged run (NaN loss sum, NaN parameters) still round-trips', () => {
  const state = sampleState({ lossSum: NaN });
  state.params[3] = NaN;
  state.m[5] = Infinity;
  const back = decodeCheckpoint(encodeCheckpoint(state), 'x.ckpt');
  assert.ok(Number.isNaN(back.lossSum));
  assert.ok(Number.isNaN(back.params[3]));
  assert.equal(back.m[5], Infinity);
});

test('a file that is not a checkpoint is refused as such, naming the file', () => {
  assert.throws(() => decodeCheckpoint(Buffer.from('{"hello": "world"}'), 'checkpoint /tmp/notes.json'), refused(/checkpoint \/tmp\/notes\.json is not a Train with Adam checkpoint/));
  assert.throws(() => decodeCheckpoint(Buffer.alloc(0), 'empty.ckpt'), refused(/empty\.ckpt is not a Train with Adam checkpoint/));
});

test('a flipped byte anywhere is a checksum mismatch', () => {
  const buf = encodeCheckpoint(sampleState());
  for (const at of [20, 4000, buf.length - 100, buf.length - 1]) {
    const bad = Buffer.from(buf);
    bad[at] ^= 0x01;
    assert.throws(() => decodeCheckpoint(bad, 'flipped.ckpt'), refused(/flipped\.ckpt is damaged \(checksum mismatch\)/));
  }
});

test('a truncated checkpoint is refused as truncated', () => {
  const buf = encodeCheckpoint(sampleState());
  for (const length of [buf.length - 1, buf.length - 32, 1000, 40]) {
    assert.throws(() => decodeCheckpoint(buf.subarray(0, length), 'cut.ckpt'), refused(/cut\.ckpt is truncated/));
  }
});

test('a checkpoint of a different network (parameter count) is refused', () => {
  const state = sampleState({ params: new Float32Array(100), m: new Float32Array(100), v: new Float32Array(100), vMax: new Float32Array(100) });
  assert.throws(() => decodeCheckpoint(encodeCheckpoint(state), 'other.ckpt'), refused(/other\.ckpt holds 100 values for params, this network has 62006/));
});

test('a checkpoint whose configuration is invalid is refused, naming the field', () => {
  const state = sampleState();
  const bad = { ...state, config: { ...state.config, beta1: 1.5 } };
  assert.throws(() => decodeCheckpoint(encodeCheckpoint(bad), 'cfg.ckpt'), refused(/cfg\.ckpt has an invalid configuration: beta1 must be in \[0, 1\), got 1\.5/));
});

test('writeCheckpointAtomic leaves only the checkpoint, and readCheckpoint reads it back', async () => {
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState({ step: 1 }));
  await writeCheckpointAtomic(file, sampleState({ step: 2 }));
  assert.deepEqual(readdirSync(dir), ['latest.ckpt']);
  assert.equal(readCheckpoint(file).step, 2);
});

test('writeCheckpointAtomic writes the bytes encodeCheckpoint makes, for states drawn at random', async () => {
  const dir = tempDir();
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 20; trial++) {
    const step = 1 + Math.floor(rand() * 1000);
    const state = sampleState({ step, lossSum: rand() * 1e3, rng: [seed >>> 0, 7, trial, 0xffffffff - trial] });
    for (const a of [state.params, state.m]) for (let k = 0; k < 200; k++) a[Math.floor(rand() * a.length)] = (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4);
    for (let k = 0; k < 200; k++) state.v[Math.floor(rand() * state.v.length)] = rand() * 1e-3;
    const file = join(dir, `c${trial}.ckpt`);
    await writeCheckpointAtomic(file, state);
    assert.deepEqual(readFileSync(file), encodeCheckpoint(state), `trial ${trial}`);
  }
});

test('writeCheckpointAtomic copies the state before it returns: the run may change it while the file is written', async () => {
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  const state = sampleState({ step: 5 });
  const expected = encodeCheckpoint(state);
  const write = writeCheckpointAtomic(file, state);
  state.params.fill(42); // the next chunk trains on
  state.m.fill(-1);
  state.permutation.reverse();
  state.step = 6;
  await write;
  assert.deepEqual(readFileSync(file), expected);
  assert.equal(readCheckpoint(file).step, 5);
});

test('a failed write (the disk fills up mid-file) leaves the old checkpoint intact and no temporary file', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState({ step: 7 }));
  const before = readFileSync(file);
  // The file system is an edge we do not own: make it run out of space after the first block.
  const realOpen = fs.promises.open;
  t.mock.method(fs.promises, 'open', async (...args: Parameters<typeof fs.promises.open>) => {
    const handle = await realOpen(...args);
    handle.writeFile = async (data: unknown) => {
      await handle.write((data as Buffer).subarray(0, 4096));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    return handle;
  });
  await assert.rejects(writeCheckpointAtomic(file, sampleState({ step: 8 })), /ENOSPC/);
  t.mock.restoreAll();
  assert.deepEqual(readFileSync(file), before);
  assert.deepEqual(readdirSync(dir), ['latest.ckpt']);
  assert.equal(readCheckpoint(file).step, 7);
});

test('the write goes to a temporary file in the same folder that is then renamed over the old name', async () => {
  // A write that dies before the rename (a kill, a power cut) leaves only such a temporary file behind:
  // readers of latest.ckpt never see it.
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState({ step: 7 }));
  writeFileSync(join(dir, '.latest.ckpt.999.deadbeef.tmp'), encodeCheckpoint(sampleState({ step: 8 })).subarray(0, 5000));
  assert.equal(readCheckpoint(file).step, 7);
  await writeCheckpointAtomic(file, sampleState({ step: 9 }));
  assert.equal(readCheckpoint(file).step, 9);
});

test('a write whose rename fails removes its temporary file', async () => {
  const dir = tempDir();
  const target = join(dir, 'latest.ckpt');
  mkdirSync(join(target, 'occupied'), { recursive: true }); // a non-empty folder cannot be renamed over
  await assert.rejects(writeCheckpointAtomic(target, sampleState()));
  assert.deepEqual(readdirSync(dir), ['latest.ckpt']);
});

test('readers never see a partial checkpoint while a writer is killed mid-write', async () => {
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState({ step: 0 }));
  const script = `
    const { writeCheckpointAtomic } = require(${JSON.stringify(require.resolve('../../sidecar/store/checkpoint'))});
    const { sampleState } = require(${JSON.stringify(require.resolve('./helpers'))});
    (async () => { for (let step = 1; ; step++) await writeCheckpointAtomic(${JSON.stringify(file)}, sampleState({ step })); })();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: 'ignore' });
  let reads = 0;
  let lastStep = 0;
  // Wait for the writer to be writing (its start-up is slow on a loaded machine), then read for a while.
  const startBy = Date.now() + 30_000;
  while (readCheckpoint(file).step === 0 && Date.now() < startBy) await new Promise((r) => setTimeout(r, 10));
  const until = Date.now() + 1000;
  while (Date.now() < until) {
    const state = readCheckpoint(file); // throws if a reader ever saw a torn file
    assert.ok(state.step >= lastStep);
    lastStep = state.step;
    reads++;
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(lastStep > 0, 'the writer wrote while we read');
  assert.ok(reads > 10);
  assert.ok(readCheckpoint(file).step >= lastStep);
  // What a kill can leave is only a temporary file beside it, never a damaged latest.ckpt.
  for (const name of readdirSync(dir)) assert.ok(name === 'latest.ckpt' || /^\.latest\.ckpt\.\d+\.[0-9a-f]+\.tmp$/.test(name), name);
  assert.ok(existsSync(file));
});

test('readCheckpoint names a missing file and a folder', () => {
  const dir = tempDir();
  assert.throws(() => readCheckpoint(join(dir, 'nope.ckpt')), refused(/nope\.ckpt does not exist/));
  assert.throws(() => readCheckpoint(dir), refused(/is a folder, not a checkpoint file/));
  assert.throws(() => readCheckpoint('a\0b'), (e: unknown) => e instanceof UserError && e.code === 'bad_path');
});

// The checksum says only that the file is what its writer wrote, and anyone can write one: every test below
// encodes its forgery with encodeCheckpoint, so the SHA-256 matches.
const forged = (overrides: Parameters<typeof sampleState>[0]) => encodeCheckpoint(sampleState(overrides));

test('a permutation entry outside the training set is refused, though the checksum matches', () => {
  const permutation = sampleState().permutation;
  permutation[17] = 1_000_000;
  assert.throws(() => decodeCheckpoint(forged({ permutation }), 'p.ckpt'), refused(/p\.ckpt is not one a run can have written: permutation entry 17 is 1000000, outside the 1000 training images/));
});

test('a permutation that holds an image twice is refused', () => {
  const permutation = sampleState().permutation;
  permutation[5] = permutation[6];
  assert.throws(() => decodeCheckpoint(forged({ permutation }), 'p.ckpt'), refused(new RegExp(`permutation holds image ${permutation[6]} twice`)));
});

test('a cursor, step, epoch or loss count that no run can reach is refused, naming it', () => {
  const cases: Array<[Parameters<typeof sampleState>[0], RegExp]> = [
    [{ cursor: 1001 }, /data cursor 1001 lies beyond its permutation of 1000 images/],
    [{ step: 3, epoch: 4, cursor: 0 }, /step 3 is fewer than its 4 finished epochs/],
    [{ step: 2000, epoch: 1, cursor: 10 }, /step 2000 draws more images than 1 epoch of 1000 and cursor 10 hold/],
    [{ step: 0, cursor: 8 }, /data cursor 8 at step 0/],
    [{ step: 10, lossCount: 11 }, /its loss sum covers 11 steps of 10/],
    [{ step: 10, parentRunId: 'p', forkStep: 11 }, /fork step 11 is after its step 10/],
    [{ rng: [0, 0, 0, 0] }, /random generator state is all zeros/],
    [{ permutation: new Uint32Array([1, 0]) }, /its permutation of 2 images is shorter than one batch of 4/],
  ];
  for (const [overrides, pattern] of cases) assert.throws(() => decodeCheckpoint(forged(overrides), 'c.ckpt'), refused(pattern), JSON.stringify(overrides));
});

test('a negative second moment (v or vMax, a mean of squares) is refused; NaN from a diverged run is not', () => {
  for (const name of ['v', 'vMax'] as const) {
    const state = sampleState();
    state[name][42] = -1e-3;
    assert.throws(() => decodeCheckpoint(encodeCheckpoint(state), 'n.ckpt'), refused(new RegExp(`${name}\\[42\\] is -0\\.001`)));
  }
  const diverged = sampleState();
  diverged.v[42] = NaN;
  assert.ok(Number.isNaN(decodeCheckpoint(encodeCheckpoint(diverged), 'd.ckpt').v[42]));
});

test('a device, a FIFO and a file larger than any checkpoint are refused at once, unread', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'pipe.ckpt');
  execFileSync('mkfifo', [fifo]);
  const huge = join(dir, 'huge.ckpt');
  fs.closeSync(fs.openSync(huge, 'w'));
  fs.truncateSync(huge, MAX_CHECKPOINT_BYTES + 1); // sparse: takes no space
  const cases: Array<[string, RegExp]> = [
    ['/dev/zero', /checkpoint \/dev\/zero is not a regular file \(a device, a pipe or a socket\)/],
    [fifo, /pipe\.ckpt is not a regular file/],
    [huge, /huge\.ckpt is [\d,]+ bytes, more than a checkpoint file can be/],
  ];
  for (const [file, pattern] of cases) {
    const started = Date.now();
    assert.throws(() => readCheckpoint(file), refused(pattern));
    await assert.rejects(readCheckpointAsync(file), refused(pattern));
    assert.ok(Date.now() - started < 1000, `${file} took ${Date.now() - started} ms`);
  }
});

test('readCheckpointAsync reads what readCheckpoint reads, and names a missing file', async () => {
  const dir = tempDir();
  const file = join(dir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState({ step: 300 }));
  assert.deepEqual(await readCheckpointAsync(file), readCheckpoint(file));
  await assert.rejects(readCheckpointAsync(join(dir, 'nope.ckpt')), refused(/nope\.ckpt does not exist/));
});
