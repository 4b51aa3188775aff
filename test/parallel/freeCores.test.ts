// The worker count of a run that does not say (sidecar/parallel/freeCores.ts): one per core other programs leave
// free as it starts. Measured on the real machine, with a real busy process, and through the real command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { chooseWorkers, fewerWorkersNote, LoadMeter, workersForFreeCores } from '../../sidecar/parallel/freeCores';
import { CORE_HELD } from '../../sidecar/parallel/governor';
import { run, tempDir } from '../commands/helpers';

test('a core counts as taken from three quarters busy: the count stays in 1..cores and falls by one per core taken', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0, max: 80, noNaN: true }), (cores, busy) => {
      const w = workersForFreeCores(cores, busy);
      assert.ok(Number.isInteger(w) && w >= 1 && w <= cores, `${cores} cores, ${busy} busy: ${w}`);
      assert.equal(w, Math.max(1, cores - Math.floor(busy + 0.25)));
      assert.ok(workersForFreeCores(cores, busy + 0.5) <= w, 'more load never gives more workers');
    }),
    { numRuns: 500 },
  );
  assert.equal(workersForFreeCores(2, 0.74), 2, 'an editor painting a dashboard (about 0.35 cores) leaves both cores');
  assert.equal(workersForFreeCores(2, 0.75), 1);
  assert.equal(workersForFreeCores(8, 2.9), 5);
  assert.equal(workersForFreeCores(4, Number.NaN), 4);
  assert.throws(() => workersForFreeCores(0, 0), /cores must be a whole number >= 1, got 0/);
});

test('another process busy on a core is seen, this process\'s own threads are not', { timeout: 30_000 }, async () => {
  // This process busy on a thread of its own (as a server's other runs are): not another program.
  const own = new Worker('const end = Date.now() + 1500; while (Date.now() < end);', { eval: true });
  await new Promise((r) => setTimeout(r, 200));
  const withOwn = await chooseWorkers(500);
  await own.terminate();
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400)); // started and spinning
    const withOther = await chooseWorkers(500);
    assert.equal(withOther.cores, cpus().length);
    assert.ok(withOther.othersBusy >= 0.75, `a busy process measured as ${withOther.othersBusy.toFixed(2)} cores`);
    assert.ok(withOther.othersBusy - withOwn.othersBusy >= 0.5, `own thread ${withOwn.othersBusy.toFixed(2)}, other process ${withOther.othersBusy.toFixed(2)}`);
    assert.ok(withOther.workers <= Math.max(1, withOther.cores - 1), `${withOther.workers} workers of ${withOther.cores} with a core taken`);
    if (withOther.cores > 1) assert.match(fewerWorkersNote(withOther) ?? '', new RegExp(`^${withOther.workers} workers? of ${withOther.cores} cores: other programs kept \\d\\.\\d\\d cores busy`));
  } finally {
    busy.kill('SIGKILL');
  }
});

test('while a run trains, the load meter reads another program\'s core, not its own threads, and forgets it in a few windows', { timeout: 30_000 }, async () => {
  const meter = new LoadMeter(300);
  assert.equal(meter.read(), undefined, 'no window has closed yet');
  const own = new Worker('const end = Date.now() + 800; while (Date.now() < end);', { eval: true });
  await new Promise((r) => setTimeout(r, 400));
  const withOwn = meter.read()!;
  await own.terminate();
  assert.ok(withOwn < CORE_HELD, `this process's own thread read as ${withOwn.toFixed(2)} cores of others`);
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  const readings: number[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 350));
      readings.push(meter.read()!);
    }
  } finally {
    busy.kill('SIGKILL');
  }
  assert.ok(readings[3] >= 0.75, `a busy process read as ${readings.map((r) => r.toFixed(2)).join(', ')} cores`);
  // Halved each window once it is gone: under half a core within two windows.
  const after: number[] = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 350));
    after.push(meter.read()!);
  }
  assert.ok(after[0] < readings[3] && after[2] < CORE_HELD, `after the process ended: ${after.map((r) => r.toFixed(2)).join(', ')}`);
});

test('the load meter counts this process\'s other runs as other programs: a sibling run training on one thread reads as a core', async () => {
  const start = performance.now();
  let running = true;
  let stoppedAt = 0;
  const siblings = () => (running ? performance.now() : stoppedAt) - start; // one thread, training all along
  const meter = new LoadMeter(200, siblings);
  await new Promise((r) => setTimeout(r, 250));
  const reading = meter.read()!;
  assert.ok(reading >= 0.9, `a sibling run's thread read as ${reading.toFixed(2)} cores`);
  running = false;
  stoppedAt = performance.now();
  const after: number[] = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 250));
    after.push(meter.read()!);
  }
  assert.ok(after[2] < CORE_HELD, `once the sibling stopped: ${after.map((r) => r.toFixed(2)).join(', ')}`);
});

test('train without --workers starts on the free cores, says so, and records the count; --workers is kept as given', { timeout: 120_000 }, async () => {
  const cores = cpus().length;
  const env = { ADAM_TRAINER_HOME: tempDir('adam-home-') };
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  const workersOf = (runsDir: string) => {
    const [id, ...more] = readdirSync(runsDir);
    assert.equal(more.length, 0);
    return (JSON.parse(readFileSync(join(runsDir, id, 'config.json'), 'utf8')) as { config: { workers: number } }).config.workers;
  };
  try {
    await new Promise((r) => setTimeout(r, 400));
    const chosenDir = tempDir('adam-free-cores-');
    const chosen = await run(['train', '--data', 'sample', '--json', '--max-steps', '20', '--runs-dir', chosenDir], env);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.ok(workersOf(chosenDir) <= Math.max(1, cores - 1), `${workersOf(chosenDir)} workers with a core taken, of ${cores}`);
    if (cores > 1) assert.match(chosen.stderr, /adam-trainer: \d+ workers? of \d+ cores: other programs kept \d\.\d\d cores busy as the run started \(--workers \d+/);
    const givenDir = tempDir('adam-free-cores-');
    const given = await run(['train', '--data', 'sample', '--json', '--max-steps', '20', '--runs-dir', givenDir, '--workers', String(cores)], env);
    assert.equal(given.code, 0, given.stderr);
    assert.equal(workersOf(givenDir), cores);
    assert.doesNotMatch(given.stderr, /other programs kept/);
  } finally {
    busy.kill('SIGKILL');
  }
});

test('ADAM_TRAINER_WORKERS sets the count of a run that does not say, even with a core taken; --workers still wins', { timeout: 120_000 }, async () => {
  const cores = cpus().length;
  const home = tempDir('adam-home-');
  const workersOf = (runsDir: string) => {
    const [id] = readdirSync(runsDir);
    return (JSON.parse(readFileSync(join(runsDir, id, 'config.json'), 'utf8')) as { config: { workers: number } }).config.workers;
  };
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400));
    const fromEnv = tempDir('adam-env-workers-');
    const r = await run(['train', '--data', 'sample', '--json', '--max-steps', '5', '--runs-dir', fromEnv], { ADAM_TRAINER_HOME: home, ADAM_TRAINER_WORKERS: String(cores) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(workersOf(fromEnv), cores, 'the variable, not the free cores');
    assert.doesNotMatch(r.stderr, /other programs kept/);
  } finally {
    busy.kill('SIGKILL');
  }
  const flagDir = tempDir('adam-env-workers-');
  const flag = await run(['train', '--data', 'sample', '--json', '--max-steps', '5', '--runs-dir', flagDir, '--workers', '1'], { ADAM_TRAINER_HOME: home, ADAM_TRAINER_WORKERS: String(cores) });
  assert.equal(flag.code, 0, flag.stderr);
  assert.equal(workersOf(flagDir), 1);
  for (const bad of ['0', 'two', '65', '1.5', '-1']) {
    const badDir = tempDir('adam-env-workers-');
    const b = await run(['train', '--data', 'sample', '--json', '--max-steps', '5', '--runs-dir', badDir], { ADAM_TRAINER_HOME: home, ADAM_TRAINER_WORKERS: bad });
    assert.equal(b.code, 2, `ADAM_TRAINER_WORKERS=${bad}: ${b.stderr}`);
    assert.match(b.stderr, new RegExp(`ADAM_TRAINER_WORKERS must be an integer${/^-?\d+$/.test(bad) ? ' in 1\\.\\.64' : ''}, got '${bad.replace('.', '\\.')}'`));
    assert.deepEqual(readdirSync(badDir), [], 'no run is started');
  }
});
