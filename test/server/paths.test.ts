// Paths from the wire go through the one path helper: run ids stay inside the runs folder, checkpoint
// files are validated by format and checksum before use.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../sidecar/protocol';
import { encodeCheckpoint, MAX_CHECKPOINT_BYTES } from '../../sidecar/store/checkpoint';
import { sampleState, tempDir } from '../store/helpers';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

describe('paths over the wire', () => {
  let s: Sidecar;
  let c: TestClient;
  let outside: string;
  before(async () => {
    s = await startSidecar();
    // A folder outside the runs folder that looks like a run, reachable through a symlink inside it.
    outside = tempDir();
    writeFileSync(join(outside, 'config.json'), JSON.stringify({ config: resolveConfig({}, 1), createdAt: 'x' }));
    writeFileSync(join(outside, 'events.jsonl'), '');
    symlinkSync(outside, join(s.runsDir, 'escape'));
    c = await TestClient.connect(s.url);
    await c.next('hello');
  });
  after(() => s.kill());

  test('run ids that are paths are refused before they reach the store', async () => {
    for (const runId of ['../x', '/etc', 'a/b', '..\\x']) {
      for (const type of ['subscribe', 'delete'] as const) {
        c.send({ type, runId, requestId: `${type}:${runId}` } as never);
        const e = await c.next('error');
        assert.equal(e.code, 'bad_message', runId);
        assert.equal(e.field, 'runId');
      }
    }
  });

  test('"." and ".." are refused as bad paths', async () => {
    for (const runId of ['.', '..']) {
      c.send({ type: 'subscribe', runId });
      assert.equal((await c.next('error')).code, 'bad_path');
      c.send({ type: 'delete', runId });
      assert.equal((await c.next('error')).code, 'bad_path');
    }
  });

  test('a run id that is a symlink out of the runs folder is refused for subscribe and delete', async () => {
    c.send({ type: 'subscribe', runId: 'escape', requestId: 'sub' });
    const e1 = await c.next('error', (m) => m.requestId === 'sub');
    assert.equal(e1.code, 'bad_path');
    assert.equal(e1.runId, 'escape');
    assert.match(e1.message, /outside the runs folder/);
    c.send({ type: 'delete', runId: 'escape', requestId: 'del' });
    assert.equal((await c.next('error', (m) => m.requestId === 'del')).code, 'bad_path');
    assert.deepEqual(readdirSync(outside).sort(), ['config.json', 'events.jsonl']);
  });

  test('the symlinked run is not listed as a run', async () => {
    c.send({ type: 'list', requestId: 'l' });
    const runs = await c.next('runs', (m) => m.requestId === 'l');
    assert.ok(!runs.runs.some((r) => r.runId === 'escape'));
  });

  test('unknown runs are unknown_run', async () => {
    for (const type of ['subscribe', 'pause', 'update', 'stop', 'checkpoint', 'evaluate', 'delete'] as const) {
      c.send({ type, runId: 'nope', requestId: type } as never);
      const e = await c.next('error', (m) => m.requestId === type);
      assert.equal(e.code, 'unknown_run', type);
      assert.equal(e.runId, 'nope');
    }
  });

  test('start with a damaged resumeFrom checkpoint is refused with a named error, and starts nothing', async () => {
    const dir = tempDir();
    const good = encodeCheckpoint(sampleState());
    const flipped = Buffer.from(good);
    flipped[good.length - 500] ^= 0x10;
    const files: Record<string, [Buffer, RegExp]> = {
      'checksum.ckpt': [flipped, /checksum\.ckpt is damaged \(checksum mismatch\)/],
      'magic.ckpt': [Buffer.concat([Buffer.from('PK\x03\x04'), good.subarray(4)]), /magic\.ckpt is not a Train with Adam checkpoint/],
      'truncated.ckpt': [good.subarray(0, good.length >> 1), /truncated\.ckpt is truncated/],
      'empty.ckpt': [Buffer.alloc(0), /empty\.ckpt is not a Train with Adam checkpoint/],
    };
    for (const [name, [bytes, pattern]] of Object.entries(files)) {
      writeFileSync(join(dir, name), bytes);
      c.send({ type: 'start', config: {}, resumeFrom: join(dir, name), requestId: name });
      const e = await c.next('error', (m) => m.requestId === name);
      assert.equal(e.code, 'bad_checkpoint', name);
      assert.match(e.message, pattern);
    }
    c.send({ type: 'start', config: {}, resumeFrom: join(dir, 'missing.ckpt'), requestId: 'missing' });
    assert.match((await c.next('error', (m) => m.requestId === 'missing')).message, /missing\.ckpt does not exist/);
    c.send({ type: 'start', config: {}, resumeFrom: dir, requestId: 'folder' });
    assert.match((await c.next('error', (m) => m.requestId === 'folder')).message, /holds no readable checkpoint/);
    assert.equal(c.all('started').length, 0);
    assert.deepEqual(readdirSync(s.runsDir), ['escape']);
    // the files are untouched
    assert.deepEqual(readFileSync(join(dir, 'checksum.ckpt')), flipped);
  });

  test('a resumeFrom that is a device, a FIFO or larger than any checkpoint is refused at once, and the sidecar serves on', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'pipe.ckpt');
    execFileSync('mkfifo', [fifo]);
    const huge = join(dir, 'huge.ckpt');
    closeSync(openSync(huge, 'w'));
    truncateSync(huge, MAX_CHECKPOINT_BYTES + 1); // sparse: takes no space
    const cases: Array<[string, RegExp]> = [
      ['/dev/zero', /checkpoint \/dev\/zero is not a regular file/],
      [fifo, /pipe\.ckpt is not a regular file/],
      [huge, /huge\.ckpt is [\d,]+ bytes, more than a checkpoint file can be/],
    ];
    for (const [file, pattern] of cases) {
      const started = Date.now();
      c.send({ type: 'start', config: {}, resumeFrom: file, requestId: file });
      const e = await c.next('error', (m) => m.requestId === file, 5000);
      assert.equal(e.code, 'bad_checkpoint', file);
      assert.match(e.message, pattern);
      assert.ok(Date.now() - started < 2000, `${file} answered after ${Date.now() - started} ms`);
    }
    c.send({ type: 'list', requestId: 'still-here' });
    await c.next('runs', (m) => m.requestId === 'still-here', 5000);
  });

  test('a checkpoint that names a run of this folder but is not that run\'s is refused, and the run is untouched', async () => {
    const record = { config: resolveConfig({ data: 'sample', seed: 0 }, 1), createdAt: '2026-01-01T00:00:00.000Z' };
    mkdirSync(join(s.runsDir, 'victim'));
    writeFileSync(join(s.runsDir, 'victim', 'config.json'), JSON.stringify(record));
    const losses = Buffer.from(new Float32Array(400).fill(2.25).buffer);
    writeFileSync(join(s.runsDir, 'victim', 'losses.f32'), losses);
    const dir = tempDir();
    const state = sampleState({ runId: 'victim', step: 250 });
    // A checksum anyone can recompute: the header's run id is all that names the run.
    writeFileSync(join(dir, 'other.ckpt'), encodeCheckpoint({ ...state, config: { ...state.config, seed: 7 } }));
    c.send({ type: 'start', config: {}, resumeFrom: join(dir, 'other.ckpt'), requestId: 'other' });
    const e = await c.next('error', (m) => m.requestId === 'other', 5000);
    assert.equal(e.code, 'bad_checkpoint');
    assert.match(e.message, /other\.ckpt names run victim, but that run's folder records seed 0 and the checkpoint 7/);
    assert.deepEqual(readFileSync(join(s.runsDir, 'victim', 'losses.f32')), losses);
    assert.deepEqual(readdirSync(join(s.runsDir, 'victim')).sort(), ['config.json', 'losses.f32']);
    assert.deepEqual(readdirSync(s.runsDir).sort(), ['escape', 'victim']);
  });
});
