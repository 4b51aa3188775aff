// `adam-trainer train` as users and scripts run it: a real process on the shipped sample of real CIFAR-10.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, run, runText, start, tempDir } from './helpers';
import { readCheckpoint, writeCheckpointAtomic } from '../../sidecar/store/checkpoint';

const home = tempDir('adam-home-');
const env = { ADAM_TRAINER_HOME: home };
const base = ['train', '--data', 'sample', '--json', '--workers', '2'];

test('--json prints metrics at multiples of --log-every, an eval per epoch, and a done line last', async () => {
  const r = await run([...base, '--epochs', '1', '--log-every', '150', '--seed', '2'], env);
  assert.equal(r.code, 0, r.stderr);
  const metrics = r.lines.filter((l) => l.type === 'metrics');
  const evals = r.lines.filter((l) => l.type === 'eval');
  const done = r.lines[r.lines.length - 1];
  assert.deepEqual(metrics.map((m) => m.step), [150, 300, 450, 600, 750]); // 3,000 images / 4 = 750 steps
  for (const m of metrics) assert.ok(typeof m.loss === 'number' && (m.loss as number) > 0 && (m.loss as number) < 5);
  assert.equal(evals.length, 1);
  assert.equal((evals[0].perClassAccuracy as number[]).length, 10);
  assert.equal(done.type, 'done');
  assert.equal(done.steps, 750);
  for (const k of ['seconds', 'samplesPerSec', 'trainLoss', 'testAccuracy']) assert.equal(typeof done[k], 'number', k);
  assert.ok((done.testAccuracy as number) > 0.15 && (done.testAccuracy as number) <= 1, `accuracy ${done.testAccuracy}`);
  assert.match(done.parametersSha256 as string, /^[0-9a-f]{64}$/);
  assert.equal(done.testAccuracy, evals[0].testAccuracy);
});

test('--max-steps stops mid-epoch and still evaluates the final parameters on the whole test set', async () => {
  const r = await run([...base, '--max-steps', '130', '--log-every', '50'], env);
  assert.equal(r.code, 0, r.stderr);
  const evals = r.lines.filter((l) => l.type === 'eval');
  assert.equal(evals.length, 1);
  assert.equal(evals[0].step, 130);
  assert.equal((evals[0].confusion as number[][]).flat().reduce((a, b) => a + b, 0), 1000);
  assert.equal(r.lines[r.lines.length - 1].steps, 130);
});

test('the same seed and worker count give the same parameters hash', async () => {
  const a = await run([...base, '--max-steps', '200', '--seed', '9'], env);
  const b = await run([...base, '--max-steps', '200', '--seed', '9'], env);
  const c = await run([...base, '--max-steps', '200', '--seed', '10'], env);
  const hash = (r: typeof a) => r.lines[r.lines.length - 1].parametersSha256;
  assert.equal(hash(a), hash(b));
  assert.notEqual(hash(a), hash(c));
});

for (const [flags, pattern] of [
  [['--lr', '-1'], /--lr must be in \(0, 1\], got -1/],
  [['--batch-size', '0'], /--batch-size must be an integer in 1\.\.1024, got 0/],
  [['--beta1', '1'], /--beta1 must be in \[0, 1\), got 1/],
  [['--optimizer', 'adagrad'], /--optimizer must be one of adam, adamw, amsgrad, sgd/],
  [['--epochs', 'two'], /--epochs must be a number, got 'two'/],
  [['--bogus'], /Unknown option '--bogus'/],
] as Array<[string[], RegExp]>) {
  test(`a bad flag (${flags.join(' ')}) is refused with exit code 2 and a message naming it`, async () => {
    const r = await runText(['train', ...flags], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  });
}

test('a dataset folder that does not exist is a clear error, not a crash', async () => {
  const r = await runText(['train', '--data', '/nonexistent/cifar'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no such dataset folder: \/nonexistent\/cifar/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a run killed with SIGKILL and resumed from its checkpoint prints the uninterrupted run\'s lines bit for bit', async () => {
  const common = ['--epochs', '3', '--max-steps', '1600', '--log-every', '100', '--checkpoint-every', '200', '--seed', '4'];
  const full = await run([...base, ...common], env);
  assert.equal(full.code, 0, full.stderr);

  const ckptDir = tempDir('adam-ckpt-');
  const child = start([...base, ...common, '--checkpoint-dir', ckptDir], env);
  const done = collect(child);
  const latest = join(ckptDir, 'latest.ckpt');
  await new Promise<void>((resolve) => {
    const t = setInterval(() => { if (existsSync(latest)) { clearInterval(t); child.kill('SIGKILL'); resolve(); } }, 2);
  });
  const killed = await done;
  assert.equal(killed.code, null, 'killed by the signal');
  const resumed = await run([...base.filter((a) => a !== '--data' && a !== 'sample'), '--data', 'sample', '--resume', latest, '--checkpoint-dir', ckptDir], env);
  assert.equal(resumed.code, 0, resumed.stderr);
  const firstStep = resumed.lines.find((l) => l.type === 'metrics')!.step as number;
  assert.ok(firstStep > 100 && firstStep <= 1600);
  const strip = (l: Record<string, unknown>) => ({ type: l.type, step: l.step, loss: l.loss, lossMin: l.lossMin, lossMax: l.lossMax, accuracy: l.accuracy, testAccuracy: l.testAccuracy, testLoss: l.testLoss });
  const fromFull = full.lines.filter((l) => (l.type === 'metrics' || l.type === 'eval') && (l.step as number) >= firstStep).map(strip);
  const fromResumed = resumed.lines.filter((l) => l.type === 'metrics' || l.type === 'eval').map(strip);
  assert.deepEqual(fromResumed, fromFull);
  assert.equal(resumed.lines[resumed.lines.length - 1].parametersSha256, full.lines[full.lines.length - 1].parametersSha256);
});

test('--resume keeps the seed: a different --seed is refused with exit code 2', async () => {
  const dir = tempDir('adam-ckpt-');
  const r = await run([...base, '--max-steps', '50', '--checkpoint-dir', dir, '--seed', '1'], env);
  assert.equal(r.code, 0, r.stderr);
  const bad = await runText(['train', '--resume', join(dir, 'latest.ckpt'), '--seed', '2'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--seed 2 differs from the checkpoint's seed 1/);
});

test('a hyperparameter flag given with --resume is applied as an edit and recorded like one', async () => {
  const dir = tempDir('adam-ckpt-');
  const r = await run([...base, '--max-steps', '100', '--checkpoint-dir', dir, '--seed', '1'], env);
  assert.equal(r.code, 0, r.stderr);
  const resumed = await run([...base, '--resume', join(dir, 'latest.ckpt'), '--max-steps', '200', '--lr', '0.003'], env);
  assert.equal(resumed.code, 0, resumed.stderr);
  const metrics = resumed.lines.filter((l) => l.type === 'metrics');
  assert.equal(metrics[metrics.length - 1].learningRate, 0.003);
  const runId = resumed.lines[resumed.lines.length - 1].runId as string;
  const events = readFileSync(join(home, 'runs', runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const applied = events.filter((e) => e.type === 'applied');
  assert.equal(applied.length, 1);
  assert.deepEqual(applied[0].changes, { learningRate: { from: 0.001, to: 0.003 } });
  assert.equal(applied[0].step, 101);
});

test('a corrupted checkpoint is refused with a message naming the file', async () => {
  const dir = tempDir('adam-ckpt-');
  await run([...base, '--max-steps', '20', '--checkpoint-dir', dir], env);
  const file = join(dir, 'latest.ckpt');
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(file, bytes);
  const r = await runText(['train', '--resume', file], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(r.stderr, /checksum/i);
});

test('a checkpoint that names a run it does not belong to is refused, and that run is untouched', async () => {
  const dir = tempDir('adam-ckpt-');
  const runsDir = join(dir, 'runs');
  const first = await run([...base, '--max-steps', '20', '--seed', '1', '--runs-dir', runsDir], env);
  assert.equal(first.code, 0, first.stderr);
  const [runId] = readdirSync(runsDir);
  const before = readFileSync(join(runsDir, runId, 'losses.f32'));
  // Another run's state under this run's id, with a checksum recomputed as anyone can.
  const state = readCheckpoint(join(runsDir, runId, 'latest.ckpt'));
  await writeCheckpointAtomic(join(dir, 'forged.ckpt'), { ...state, step: 10, lossCount: 10, config: { ...state.config, seed: 2 } });
  const r = await runText(['train', '--resume', join(dir, 'forged.ckpt'), '--runs-dir', runsDir], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`forged\\.ckpt names run ${runId}, but that run's folder records seed 1 and the checkpoint 2`));
  assert.deepEqual(readFileSync(join(runsDir, runId, 'losses.f32')), before);
  assert.deepEqual(readdirSync(runsDir), [runId]);
});

test('train starts by removing what a killed writer left in its --checkpoint-dir', async () => {
  const dir = tempDir('adam-ckpt-');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const left = `.latest.ckpt.${Number(gone.stdout)}.5eed1e55.tmp`; // its writer has exited
  writeFileSync(join(dir, left), 'half a checkpoint');
  const r = await run([...base, '--max-steps', '5', '--checkpoint-dir', dir], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`removed ${join(dir, left).replace(/\./g, '\\.')}, left by a write that was killed`));
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  assert.ok(existsSync(join(dir, 'latest.ckpt')));
});

test('each run gets its own folder in the runs folder', () => {
  const runs = readdirSync(join(home, 'runs'));
  assert.ok(runs.length >= 3);
  for (const id of runs) assert.match(id, /^[A-Za-z0-9._-]+$/);
});

test('a loss that becomes NaN stops a headless run with a message saying why, instead of training on garbage', async () => {
  const dir = tempDir('adam-ckpt-');
  const r = await run([...base, '--max-steps', '20', '--checkpoint-dir', dir], env);
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, 'latest.ckpt');
  const state = readCheckpoint(file);
  state.params.fill(NaN, 0, 450); // conv1's weights diverged
  await writeCheckpointAtomic(file, state);
  const resumed = await run([...base, '--resume', file, '--max-steps', '400'], env);
  assert.equal(resumed.code, 1);
  assert.match(resumed.stderr, /the training loss became NaN at step \d+: paused instead of training on garbage/);
  assert.equal(resumed.lines.filter((l) => l.type === 'done').length, 0);
});
