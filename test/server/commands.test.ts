// `adam-trainer runs` and `adam-trainer export`, as a user runs them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PARAMETERS } from '../../sidecar/nn/spec';
import { resolveConfig } from '../../sidecar/protocol';
import { encodeCheckpoint, writeCheckpointAtomic } from '../../sidecar/store/checkpoint';
import { RunStore } from '../../sidecar/store/runs';
import { sampleState, tempDir } from '../store/helpers';
import { ensureBuilt, ROOT } from './sidecar';

function cli(...args: string[]) {
  ensureBuilt();
  return spawnSync(process.execPath, [join(ROOT, 'bin', 'adam-trainer.js'), ...args], { encoding: 'utf8', env: { ...process.env, ADAM_TRAINER_HOME: tempDir() } });
}

test('runs lists the runs folder as a table, or as JSON with --json', () => {
  const runsDir = tempDir();
  const store = new RunStore(runsDir);
  store.createRun('20260101-000000-aaaaaa', resolveConfig({ learningRate: 3e-4 }, 2));
  store.createRun('20260101-000001-bbbbbb', resolveConfig({ optimizer: 'sgd' }, 2), { parentRunId: '20260101-000000-aaaaaa', forkStep: 500 });
  store.appendEvent('20260101-000001-bbbbbb', { type: 'state', runId: '20260101-000001-bbbbbb', state: 'done', step: 900 });
  const table = cli('runs', '--runs-dir', runsDir);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /^RUN ID\s+STATE\s+STEP/);
  assert.match(lines[1], /^20260101-000000-aaaaaa\s+idle\s+-\s+-\s+adam\s+0\.0003/);
  assert.match(lines[2], /^20260101-000001-bbbbbb\s+done\s+900\s+-\s+sgd.*20260101-000000-aaaaaa@500$/);
  const json = cli('runs', '--runs-dir', runsDir, '--json');
  assert.deepEqual(JSON.parse(json.stdout).map((r: { runId: string; state: string }) => [r.runId, r.state]), [
    ['20260101-000000-aaaaaa', 'idle'],
    ['20260101-000001-bbbbbb', 'done'],
  ]);
  const empty = cli('runs', '--runs-dir', join(tempDir(), 'none'));
  assert.equal(empty.status, 0);
  assert.match(empty.stdout, /no runs in/);
});

test('export writes the checkpoint parameters as safetensors under the state_dict names', async () => {
  const dir = tempDir();
  const state = sampleState();
  await writeCheckpointAtomic(join(dir, 'latest.ckpt'), state);
  const r = cli('export', join(dir, 'latest.ckpt'), join(dir, 'net.safetensors'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*net\.safetensors: 10 tensors, 62006 parameters/);
  const buf = readFileSync(join(dir, 'net.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  assert.equal(header.__metadata__.format, 'pt');
  for (const p of PARAMETERS) {
    assert.deepEqual(header[p.name].shape, p.shape);
    const [begin] = header[p.name].data_offsets;
    assert.equal(buf.readFloatLE(8 + n + begin), state.params[p.offset]);
  }
});

test('export refuses a damaged checkpoint (exit 1, naming it) and wrong arguments (exit 2)', () => {
  const dir = tempDir();
  const bytes = encodeCheckpoint(sampleState());
  bytes[100] ^= 1;
  writeFileSync(join(dir, 'bad.ckpt'), bytes);
  const bad = cli('export', join(dir, 'bad.ckpt'), join(dir, 'out.safetensors'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.ckpt is damaged \(checksum mismatch\)/);
  const usage = cli('export', join(dir, 'bad.ckpt'));
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: adam-trainer export CHECKPOINT OUT\.safetensors/);
});

test('export does not write through a symbolic link at its output name, nor into a folder', async () => {
  const dir = tempDir();
  await writeCheckpointAtomic(join(dir, 'latest.ckpt'), sampleState());
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(dir, 'out.safetensors'));
  const r = cli('export', join(dir, 'latest.ckpt'), join(dir, 'out.safetensors'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /output file .*out\.safetensors is a symbolic link \(to .*victim\.txt\); it is not written through/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.ok(lstatSync(join(dir, 'out.safetensors')).isSymbolicLink());
  mkdirSync(join(dir, 'folder.safetensors'));
  const folder = cli('export', join(dir, 'latest.ckpt'), join(dir, 'folder.safetensors'));
  assert.equal(folder.status, 1);
  assert.match(folder.stderr, /folder\.safetensors is a folder; give a file name/);
  // A symlinked folder is the user's own choice of place: the file lands in the folder it points to.
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'linked'));
  const linked = cli('export', join(dir, 'latest.ckpt'), join(dir, 'linked', 'net.safetensors'));
  assert.equal(linked.status, 0, linked.stderr);
  assert.ok(lstatSync(join(dir, 'real', 'net.safetensors')).isFile());
});
