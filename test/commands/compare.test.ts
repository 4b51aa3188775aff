// `adam-trainer compare` as users and scripts run it: a real process on the shipped sample of real CIFAR-10,
// a few short runs, the JSON lines checked against statistics worked out here from the result lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, run, runText, start, tempDir } from './helpers';

const home = tempDir('adam-home-');
const env = { ADAM_TRAINER_HOME: home };
const short = ['--data', 'sample', '--max-steps', '150', '--epochs', '1'];

// t(0.975, df) for the degrees of freedom these tests meet (a statistics table).
const T975: Record<number, number> = { 1: 12.706, 2: 4.303 };

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) };
}

function near(actual: unknown, expected: number, what: string, tolerance = 1e-3 * Math.abs(expected) + 1e-9): void {
  assert.equal(typeof actual, 'number', what);
  assert.ok(Math.abs((actual as number) - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

test('--json prints a result line per (optimizer, seed) and a summary whose statistics follow from them', async () => {
  const runsDir = tempDir('adam-runs-');
  const r = await run(['compare', '--optimizers', 'adam,sgd', '--seeds', '1-2', ...short, '--runs-dir', runsDir, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const results = r.lines.filter((l) => l.type === 'result');
  assert.equal(results.length, 4);
  assert.deepEqual(r.lines.map((l) => l.type), ['result', 'result', 'result', 'result', 'summary']);
  assert.deepEqual(results.map((l) => `${l.optimizer} ${l.seed}`).sort(), ['adam 1', 'adam 2', 'sgd 1', 'sgd 2']);
  for (const l of results) {
    for (const k of ['testAccuracy', 'trainLoss', 'steps', 'seconds']) assert.equal(typeof l[k], 'number', k);
    assert.equal(l.steps, 150);
    assert.ok((l.testAccuracy as number) >= 0 && (l.testAccuracy as number) <= 1);
  }

  const summary = r.lines[r.lines.length - 1] as {
    optimizers: Record<string, { n: number; mean: number; std: number; ci95: [number, number] }>;
    difference: { a: string; b: string; mean: number; ci95: [number, number] };
    verdict: string;
    group: string;
  };
  const acc = (o: string, s: number) => results.find((l) => l.optimizer === o && l.seed === s)!.testAccuracy as number;
  for (const o of ['adam', 'sgd']) {
    const { mean, std } = meanStd([acc(o, 1), acc(o, 2)]);
    const s = summary.optimizers[o];
    assert.equal(s.n, 2);
    near(s.mean, mean, `${o} mean`);
    near(s.std, std, `${o} std`);
    near(s.ci95[0], mean - (T975[1] * std) / Math.SQRT2, `${o} ci95 low`);
    near(s.ci95[1], mean + (T975[1] * std) / Math.SQRT2, `${o} ci95 high`);
  }
  const diffs = [1, 2].map((s) => acc('adam', s) - acc('sgd', s));
  const d = meanStd(diffs);
  assert.equal(summary.difference.a, 'adam');
  assert.equal(summary.difference.b, 'sgd');
  near(summary.difference.mean, d.mean, 'difference mean');
  near(summary.difference.ci95[0], d.mean - (T975[1] * d.std) / Math.SQRT2, 'difference ci95 low');
  near(summary.difference.ci95[1], d.mean + (T975[1] * d.std) / Math.SQRT2, 'difference ci95 high');
  const [lo, hi] = summary.difference.ci95;
  if (lo > 0 || hi < 0) assert.match(summary.verdict, /the interval excludes zero/);
  else assert.match(summary.verdict, /the interval includes zero/);
  assert.match(summary.verdict, /paired over 2 seeds/);

  // The runs are in the runs folder like any other, each recording its group.
  const folders = readdirSync(runsDir);
  assert.equal(folders.length, 4);
  for (const id of folders) {
    const record = JSON.parse(readFileSync(join(runsDir, id, 'config.json'), 'utf8'));
    assert.equal(record.group.id, summary.group);
    assert.deepEqual(record.group.optimizers, ['adam', 'sgd']);
    assert.deepEqual(record.group.seeds, [1, 2]);
    assert.equal(record.config.workers, 1);
    const result = results.find((l) => l.runId === id)!;
    assert.equal(record.config.optimizer, result.optimizer);
    assert.equal(record.config.seed, result.seed);
  }
  const listed = await run(['runs', '--runs-dir', runsDir, '--json'], env);
  const list = listed.lines[0] as unknown as Array<{ group?: { id: string }; state: string }>;
  assert.equal(list.length, 4);
  for (const s of list) assert.equal(s.group?.id, summary.group);
  for (const s of list) assert.equal(s.state, 'done');
});

test('a compare run trains exactly what train trains with the same seed, optimizer and one worker', async () => {
  const r = await run(['compare', '--optimizers', 'sgd', '--seeds', '7', ...short, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const t = await run(['train', '--optimizer', 'sgd', '--seed', '7', '--workers', '1', ...short, '--json'], env);
  assert.equal(t.code, 0, t.stderr);
  const result = r.lines[0];
  const done = t.lines[t.lines.length - 1];
  assert.equal(result.testAccuracy, done.testAccuracy);
  assert.equal(result.trainLoss, done.trainLoss);
  const summary = r.lines[1];
  assert.equal(summary.difference, undefined);
  assert.match(summary.verdict as string, /only sgd was trained/);
});

test('without --json it prints a table of seeds and optimizers, the statistics and the verdict', async () => {
  const r = await runText(['compare', '--optimizers', 'adam,sgd', '--seeds', '3,5', ...short], env);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^seed\s+adam test acc\s+sgd test acc\s+adam - sgd \(points\)$/);
  assert.match(lines[1], /^3\s+\d+\.\d\d%\s+\d+\.\d\d%\s+[+-]\d+\.\d\d$/);
  assert.match(lines[2], /^5\s/);
  assert.match(r.stdout, /^mean\s+\d+\.\d\d%/m);
  assert.match(r.stdout, /^95% CI\s/m);
  assert.match(r.stdout, /adam - sgd = [+-]\d+\.\d\d points of test accuracy \(95% CI .* paired over 2 seeds\): the interval (excludes|includes) zero/);
  // One progress line a finished run, in the order they finish (which the machine's load decides).
  for (const run of ['adam seed 3', 'adam seed 5', 'sgd seed 3', 'sgd seed 5']) assert.match(r.stderr, new RegExp(`\\[[1-4]/4\\] ${run}: \\d+\\.\\d\\d%`));
  assert.match(r.stderr, /\[4\/4\] \w+ seed \d: \d+\.\d\d%/);
});

test('Ctrl-C stops the runs after their checkpoints, starts no more, still prints the summary and exits 1', async () => {
  const runsDir = tempDir('adam-runs-');
  const child = start(['compare', '--optimizers', 'adam,sgd', '--seeds', '1-3', '--data', 'sample', '--epochs', '50', '--runs-dir', runsDir, '--json'], env);
  const done = collect(child);
  // The first run's folder exists once the signal handlers are in place.
  const deadline = Date.now() + 30_000;
  while (!(existsSync(runsDir) && readdirSync(runsDir).length > 0)) {
    assert.ok(Date.now() < deadline, 'no run started');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /interrupted; 0 of 6 runs finished/);
  assert.equal(r.lines.at(-1)?.type, 'summary');
  const folders = readdirSync(runsDir);
  assert.ok(folders.length >= 1 && folders.length <= 2, `${folders.length} runs started`);
  for (const id of folders) assert.equal(JSON.parse(readFileSync(join(runsDir, id, 'status.json'), 'utf8')).state, 'stopped');
});

for (const [flags, pattern] of [
  [['--seeds', '5-1'], /--seeds must be an increasing range \(5-1 is empty\).*got '5-1'/],
  [['--seeds', 'x'], /--seeds must be seeds.*got 'x'/],
  [['--seeds', '1,1'], /--seeds must not repeat a seed/],
  [['--seeds', '1-5000'], /--seeds must hold at most 1000 seeds/],
  [['--optimizers', 'adam,foo'], /--optimizers must be a comma-separated list of adam, .*sgd-nesterov, got 'foo'/],
  [['--optimizers', 'adam,adam'], /--optimizers must not name an optimizer twice/],
  [['--epochs', '0'], /--epochs must be an integer in 1\.\.10000, got 0/],
] as Array<[string[], RegExp]>) {
  test(`a bad flag (${flags.join(' ')}) is refused with exit code 2 and a message naming it`, async () => {
    const r = await runText(['compare', ...flags, '--data', 'sample'], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  });
}

test('any set of optimizers and ablations compares on the same seeds and data, each run with its variant', async () => {
  const runsDir = tempDir('adam-runs-');
  const optimizers = ['adam-no-bias-correction', 'sgd-nesterov', 'rmsprop', 'adam'];
  const r = await run(['compare', '--optimizers', optimizers.join(','), '--seeds', '3', ...short, '--max-steps', '40', '--runs-dir', runsDir, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const results = r.lines.filter((l) => l.type === 'result');
  assert.deepEqual(results.map((l) => l.optimizer).sort(), [...optimizers].sort());
  const summary = r.lines[r.lines.length - 1] as { optimizers: Record<string, { n: number }>; difference: { a: string; b: string } };
  assert.deepEqual(Object.keys(summary.optimizers), optimizers);
  assert.deepEqual([summary.difference.a, summary.difference.b], ['adam-no-bias-correction', 'sgd-nesterov']);
  // Each run's recorded configuration is the variant it was compared as, on the same seed and data.
  const configs = results.map((l) => JSON.parse(readFileSync(join(runsDir, String(l.runId), 'config.json'), 'utf8')).config);
  const byName = Object.fromEntries(results.map((l, i) => [l.optimizer as string, configs[i]]));
  assert.deepEqual(['optimizer', 'nesterov', 'biasCorrection'].map((k) => byName['adam-no-bias-correction'][k]), ['adam', false, false]);
  assert.deepEqual(['optimizer', 'nesterov', 'biasCorrection', 'momentum'].map((k) => byName['sgd-nesterov'][k]), ['sgd', true, true, 0.9]);
  assert.deepEqual(['optimizer', 'momentum', 'alpha'].map((k) => byName.rmsprop[k]), ['rmsprop', 0, 0.99]);
  for (const c of configs) assert.deepEqual([c.seed, c.data], [3, 'sample']);
  // Bias correction changes the first steps (they are 3x larger without it): the two Adam runs differ.
  assert.notEqual(results.find((l) => l.optimizer === 'adam')!.trainLoss, results.find((l) => l.optimizer === 'adam-no-bias-correction')!.trainLoss);
});
