// Learning-rate schedules from the command line: real processes on the shipped sample of real CIFAR-10. The lr of
// every step is the schedule's (metrics.learningRate is the lr the step used), the engine applies it inside a chunk
// exactly as a hand-made edit at the step would, and a resumed run follows the same lr bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { collect, run, runText, start, tempDir } from './helpers';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { learningRateAt, SCHEDULES } from '../../sidecar/optim/schedule';

const home = tempDir('adam-home-');
const env = { ADAM_TRAINER_HOME: home };
const base = ['train', '--data', 'sample', '--json', '--workers', '2'];
const hashOf = (r: { lines: Array<Record<string, unknown>> }) => r.lines[r.lines.length - 1].parametersSha256;

test('metrics.learningRate is the lr the logged step used: the schedule\'s, planned over --max-steps (random schedules)', async () => {
  const configs = fc.sample(
    fc.record({
      schedule: fc.constantFrom(...SCHEDULES),
      lr: fc.double({ min: 1e-4, max: 5e-3, noNaN: true }),
      warmup: fc.integer({ min: 0, max: 20 }),
      stepSize: fc.integer({ min: 3, max: 25 }),
      maxSteps: fc.integer({ min: 60, max: 90 }),
    }),
    { numRuns: 3, seed: Number(process.env.PROPERTY_SEED ?? 14) },
  );
  for (const c of configs) {
    const dir = tempDir('adam-ckpt-');
    const flags = ['--schedule', c.schedule, '--lr', String(c.lr), '--max-lr', String(c.lr * 3), '--min-lr', String(c.lr / 10), '--warmup-steps', String(c.warmup), '--step-size', String(c.stepSize), '--gamma', '0.5'];
    const r = await run([...base, ...flags, '--max-steps', String(c.maxSteps), '--log-every', '1', '--checkpoint-dir', dir], env);
    assert.equal(r.code, 0, r.stderr);
    const config = readCheckpoint(join(dir, 'latest.ckpt')).config;
    assert.equal(config.scheduleSteps, c.maxSteps, 'the schedule is planned over the run, which --max-steps ends');
    assert.equal(config.schedule, c.schedule);
    const metrics = r.lines.filter((l) => l.type === 'metrics');
    assert.equal(metrics.length, c.maxSteps);
    const distinct = new Set(metrics.map((m) => m.learningRate));
    if (c.schedule !== 'constant' || c.warmup > 0) assert.ok(distinct.size > 2, `${JSON.stringify(c)}: the lr changes along the run`);
    for (const m of metrics) assert.equal(m.learningRate, learningRateAt(config, (m.step as number) - 1), `${JSON.stringify(c)} step ${m.step}`);
  }
});

test('a step schedule trains exactly the parameters of a constant lr edited by hand at each of its boundaries', async () => {
  const common = ['--seed', '3', '--lr', '0.002'];
  const scheduled = await run([...base, ...common, '--schedule', 'step', '--step-size', '37', '--gamma', '0.5', '--max-steps', '111'], env);
  assert.equal(scheduled.code, 0, scheduled.stderr);
  const dir = tempDir('adam-ckpt-');
  const first = await run([...base, ...common, '--max-steps', '37', '--checkpoint-dir', dir], env);
  assert.equal(first.code, 0, first.stderr);
  const second = await run([...base, '--resume', join(dir, 'latest.ckpt'), '--lr', '0.001', '--max-steps', '74', '--checkpoint-dir', dir], env);
  assert.equal(second.code, 0, second.stderr);
  const third = await run([...base, '--resume', join(dir, 'latest.ckpt'), '--lr', '0.0005', '--max-steps', '111', '--checkpoint-dir', dir], env);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(hashOf(third), hashOf(scheduled));
  const constant = await run([...base, ...common, '--max-steps', '111'], env);
  assert.notEqual(hashOf(constant), hashOf(scheduled), 'the schedule changed the run');
});

test('a scheduled run killed and resumed from its checkpoint follows the same lr and prints the same lines, bit for bit', async () => {
  const common = ['--max-steps', '600', '--log-every', '50', '--checkpoint-every', '150', '--seed', '5', '--schedule', 'onecycle', '--max-lr', '0.004', '--warmup-steps', '40'];
  const full = await run([...base, ...common], env);
  assert.equal(full.code, 0, full.stderr);
  const ckptDir = tempDir('adam-ckpt-');
  const child = start([...base, ...common, '--checkpoint-dir', ckptDir], env);
  const done = collect(child);
  const latest = join(ckptDir, 'latest.ckpt');
  await new Promise<void>((resolve) => {
    const t = setInterval(() => { if (existsSync(latest)) { clearInterval(t); child.kill('SIGKILL'); resolve(); } }, 2);
  });
  await done;
  // A longer --max-steps on resume does not stretch the schedule: it was planned over the run as it started.
  const resumed = await run([...base, '--resume', latest, '--checkpoint-dir', ckptDir], env);
  assert.equal(resumed.code, 0, resumed.stderr);
  const firstStep = resumed.lines.find((l) => l.type === 'metrics')!.step as number;
  assert.ok(firstStep > 50 && firstStep <= 600);
  const strip = (l: Record<string, unknown>) => ({ step: l.step, loss: l.loss, learningRate: l.learningRate });
  const fromFull = full.lines.filter((l) => l.type === 'metrics' && (l.step as number) >= firstStep).map(strip);
  assert.deepEqual(resumed.lines.filter((l) => l.type === 'metrics').map(strip), fromFull);
  assert.equal(hashOf(resumed), hashOf(full));
});

test('a schedule that cannot be planned over the run, or a bad schedule flag, is refused with a sentence naming it (exit 2)', async () => {
  const bad = await runText(['train', '--schedule', 'linear'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--schedule must be one of constant, step, cosine, onecycle, got "linear"/);
  const gamma = await runText(['train', '--gamma', '0'], env);
  assert.equal(gamma.code, 2);
  assert.match(gamma.stderr, /--gamma must be in \(0, 1\], got 0/);
  const warm = await runText([...base, '--schedule', 'cosine', '--warmup-steps', '50', '--max-steps', '50'], env);
  assert.equal(warm.code, 2, warm.stderr);
  assert.match(warm.stderr, /warmupSteps 50 leaves no step of the run's 50 for the cosine schedule/);
  const stretched = await runText(['train', '--resume', '/nonexistent.ckpt', '--schedule-steps', '100'], env);
  assert.equal(stretched.code, 2);
  assert.match(stretched.stderr, /--schedule-steps is fixed when a run starts/);
});
