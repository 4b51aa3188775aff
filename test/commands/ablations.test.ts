// Issue 14 from the command line, as real processes on the shipped sample of real CIFAR-10: the ablations as
// optimizers (rmsprop, sgd --nesterov, --no-bias-correction) and flip-crop augmentation resume bit for bit across
// an epoch boundary; augmentation draws the same images for any worker count; bad flags are refused naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpointAtomic } from '../../sidecar/store/checkpoint';
import { run, runText, tempDir, type Result } from './helpers';

const home = tempDir('adam-home-');
const env = { ADAM_TRAINER_HOME: home };
const base = ['train', '--data', 'sample', '--json', '--workers', '2', '--log-every', '100'];
const doneLine = (r: Result) => r.lines[r.lines.length - 1];

// The sample's 3,000 training images make 750 steps an epoch at batch 4: a checkpoint at step 400 resumed to 900
// crosses into the second epoch, whose order and (with augmentation) flips and crops the resumed run draws itself.
for (const flags of [
  ['--optimizer', 'rmsprop', '--momentum', '0.9', '--alpha', '0.95', '--lr', '0.0003'],
  ['--optimizer', 'sgd', '--nesterov', '--lr', '0.003'],
  ['--optimizer', 'adamw', '--no-bias-correction', '--augment', 'flip-crop'],
]) {
  test(`${flags.join(' ')}: a run resumed from its checkpoint prints the uninterrupted run's lines bit for bit`, async () => {
    const common = [...flags, '--seed', '3', '--epochs', '2'];
    const full = await run([...base, ...common, '--max-steps', '900'], env);
    assert.equal(full.code, 0, full.stderr);
    const dir = tempDir('adam-ckpt-');
    const first = await run([...base, ...common, '--max-steps', '400', '--checkpoint-dir', dir], env);
    assert.equal(first.code, 0, first.stderr);
    const resumed = await run([...base, '--resume', join(dir, 'latest.ckpt'), '--max-steps', '900', '--checkpoint-dir', dir], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const strip = (l: Record<string, unknown>) => ({ type: l.type, step: l.step, loss: l.loss, lossMin: l.lossMin, lossMax: l.lossMax, accuracy: l.accuracy, testAccuracy: l.testAccuracy });
    const after400 = (r: Result) => r.lines.filter((l) => (l.type === 'metrics' || l.type === 'eval') && (l.step as number) > 400).map(strip);
    assert.deepEqual(after400(resumed), after400(full));
    assert.ok(after400(full).some((l) => (l.step as number) > 750), 'the comparison reaches the second epoch');
    assert.equal(doneLine(resumed).parametersSha256, doneLine(full).parametersSha256);
  });
}

test('flip-crop changes what the run trains on, and draws the same flips and crops for 1, 2 and 3 workers', async () => {
  const steps = ['--max-steps', '6', '--log-every', '1', '--seed', '5'];
  const runs = await Promise.all([1, 2, 3].map((w) => run(['train', '--data', 'sample', '--json', '--workers', String(w), '--augment', 'flip-crop', ...steps], env)));
  const plain = await run(['train', '--data', 'sample', '--json', '--workers', '2', ...steps], env);
  const losses = (r: Result) => r.lines.filter((l) => l.type === 'metrics').map((l) => l.loss as number);
  for (const r of [...runs, plain]) assert.equal(r.code, 0, r.stderr);
  // The workers sum the shards' losses in another order: float32 rounding apart, never a different image.
  for (const r of runs.slice(1)) losses(r).forEach((loss, i) => assert.ok(Math.abs(loss - losses(runs[0])[i]) <= 1e-5 * loss, `step ${i + 1}: ${loss} vs ${losses(runs[0])[i]}`));
  assert.ok(losses(plain).some((loss, i) => Math.abs(loss - losses(runs[1])[i]) > 1e-3), 'augmented batches are other images');
});

test('a checkpoint of an augmented run without its augmentation seed is refused, naming what is missing', async () => {
  const dir = tempDir('adam-ckpt-');
  const r = await run([...base, '--augment', 'flip-crop', '--max-steps', '20', '--checkpoint-dir', dir], env);
  assert.equal(r.code, 0, r.stderr);
  const state = readCheckpoint(join(dir, 'latest.ckpt'));
  assert.equal(typeof state.augmentSeed, 'number');
  delete state.augmentSeed;
  await writeCheckpointAtomic(join(dir, 'forged.ckpt'), state);
  const bad = await runText(['train', '--resume', join(dir, 'forged.ckpt')], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /augment flip-crop without an augmentation seed/);
});

for (const [flags, pattern] of [
  [['--augment', 'flip'], /--augment must be one of none, flip-crop, got "flip"/],
  [['--alpha', '1'], /--alpha must be in \[0, 1\), got 1/],
  [['--optimizer', 'adam', '--nesterov'], /nesterov applies to sgd only, and the optimizer is adam/],
  [['--optimizer', 'sgd', '--nesterov', '--momentum', '0'], /--nesterov needs --momentum > 0/],
  [['--optimizer', 'rmsprop', '--no-bias-correction'], /--no-bias-correction applies to adam, adamw and amsgrad only/],
] as Array<[string[], RegExp]>) {
  test(`a bad variant flag (${flags.join(' ')}) is refused with exit code 2 and a message naming it`, async () => {
    const r = await runText(['train', '--data', 'sample', ...flags], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  });
}

test('--resume keeps the variant: another --augment is refused with exit code 2', async () => {
  const dir = tempDir('adam-ckpt-');
  const r = await run([...base, '--max-steps', '10', '--checkpoint-dir', dir], env);
  assert.equal(r.code, 0, r.stderr);
  const bad = await runText(['train', '--resume', join(dir, 'latest.ckpt'), '--augment', 'flip-crop'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--augment flip-crop differs from the checkpoint's augment none/);
});
