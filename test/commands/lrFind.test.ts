// `adam-trainer lr-find` as a real process on the shipped sample of real CIFAR-10: its lines follow the range
// test's rules (optim/lrRange.ts) on the real engine's losses, it stops when the loss diverges, and it trains what
// `train` would at the same lrs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run, runText, tempDir } from './helpers';
import { rangeLearningRate, suggest, type RangePoint } from '../../sidecar/optim/lrRange';
import { OPTIMIZERS } from '../../sidecar/protocol';

const home = tempDir('adam-home-');
const env = { ADAM_TRAINER_HOME: home };
const base = ['lr-find', '--data', 'sample', '--json', '--workers', '2'];
type Line = Record<string, unknown>;
const pointsOf = (lines: Line[], optimizer: string) => lines.filter((l) => l.type === 'point' && l.optimizer === optimizer) as unknown as Array<RangePoint & { optimizer: string }>;

test('--json prints a point per step, on an exponential lr ramp with the smoothed loss, then the suggestion', async () => {
  const r = await run([...base, '--optimizer', 'adam', '--min-lr', '1e-6', '--max-lr', '0.1', '--steps', '120'], env);
  assert.equal(r.code, 0, r.stderr);
  const points = pointsOf(r.lines, 'adam');
  assert.equal(points.length, 120, 'Adam up to 0.1 does not diverge on the sample');
  points.forEach((p, i) => {
    assert.equal(p.step, i + 1);
    assert.equal(p.learningRate, rangeLearningRate(1e-6, 0.1, 120, i));
    assert.ok(p.loss > 0 && Number.isFinite(p.loss));
    const expected = i === 0 ? p.loss : 0.05 * p.loss + 0.95 * points[i - 1].smoothedLoss;
    assert.equal(p.smoothedLoss, expected);
  });
  const last = r.lines[r.lines.length - 1];
  const s = suggest(points);
  assert.deepEqual(last, { type: 'suggestion', optimizer: 'adam', learningRate: s.learningRate, minLossLearningRate: s.minLossLearningRate });
  assert.ok(s.learningRate! > 1e-6 && s.learningRate! < 0.1);
});

test('the test stops at the step whose smoothed loss passes 5 times its lowest, and still suggests', async () => {
  // Adam from 0.05 to 10 in 100 steps blows the loss up on the sample (seed 0, 2 workers) near step 90.
  const r = await run([...base, '--optimizer', 'adam', '--min-lr', '0.05', '--max-lr', '10', '--steps', '100'], env);
  assert.equal(r.code, 0, r.stderr);
  const points = pointsOf(r.lines, 'adam');
  assert.ok(points.length < 300, `stopped after ${points.length} steps`);
  const last = points[points.length - 1];
  const lowest = Math.min(...points.map((p) => p.smoothedLoss));
  assert.ok(!Number.isFinite(last.smoothedLoss) || last.smoothedLoss > 5 * lowest, 'the last step is the one that diverged');
  for (const p of points.slice(0, -1)) assert.ok(p.smoothedLoss <= 5 * Math.min(...points.slice(0, p.step).map((q) => q.smoothedLoss)));
  const suggestion = r.lines[r.lines.length - 1];
  assert.equal(suggestion.type, 'suggestion');
  assert.deepEqual(suggestion, { type: 'suggestion', optimizer: 'adam', ...suggest(points) });
  assert.ok(typeof suggestion.learningRate === 'number' && suggestion.learningRate < last.learningRate);
});

test('its losses are the engine\'s: the same as train at the same two lrs, from the same seed', async () => {
  const found = await run([...base, '--min-lr', '0.001', '--max-lr', '0.01', '--steps', '2', '--seed', '7'], env);
  assert.equal(found.code, 0, found.stderr);
  const dir = tempDir('adam-ckpt-');
  const common = ['train', '--data', 'sample', '--json', '--workers', '2', '--seed', '7', '--log-every', '1', '--checkpoint-dir', dir];
  const first = await run([...common, '--lr', '0.001', '--max-steps', '1'], env);
  const second = await run([...common, '--resume', join(dir, 'latest.ckpt'), '--lr', '0.01', '--max-steps', '3'], env);
  assert.equal(second.code, 0, second.stderr);
  const trainLosses = [...first.lines, ...second.lines].filter((l) => l.type === 'metrics').map((l) => l.loss);
  const points = pointsOf(found.lines, 'adam');
  // Step 3 is the first one whose loss shows step 2's lr (0.01): lr-find has no step 3, so it is checked through train.
  assert.deepEqual(points.map((p) => p.loss), trainLosses.slice(0, 2));
  const more = await run([...base, '--min-lr', '0.001', '--max-lr', '0.01', '--steps', '2', '--seed', '7', '--optimizer', 'adam,sgd'], env);
  assert.deepEqual(pointsOf(more.lines, 'adam').map((p) => p.loss), trainLosses.slice(0, 2), 'the second optimizer is tested after the first, on its own fresh net');
  assert.equal(pointsOf(more.lines, 'sgd').length, 2);
});

test('--from starts from a checkpoint\'s weights', async () => {
  const dir = tempDir('adam-ckpt-');
  const trained = await run(['train', '--data', 'sample', '--json', '--workers', '2', '--max-steps', '300', '--checkpoint-dir', dir], env);
  assert.equal(trained.code, 0, trained.stderr);
  const fresh = await run([...base, '--steps', '30'], env);
  const from = await run([...base, '--steps', '30', '--from', join(dir, 'latest.ckpt')], env);
  assert.equal(from.code, 0, from.stderr);
  const first = (r: { lines: Line[] }) => pointsOf(r.lines, 'adam')[0].loss;
  assert.notEqual(first(from), first(fresh));
});

test('bad flags are refused with a sentence naming them (exit 2)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--min-lr', '0.1', '--max-lr', '0.01'], /--min-lr 0.1 must be below --max-lr 0.01/],
    [['--steps', '1'], /--steps must be an integer in 2..100000, got 1/],
    [['--max-lr', '20'], /--max-lr must be in \(0, 10\], got 20/],
    [['--optimizer', 'lion'], new RegExp(`--optimizer must be one of ${OPTIMIZERS.join(', ')} .*got 'lion'`)],
  ];
  for (const [flags, message] of cases) {
    const r = await runText(['lr-find', ...flags], env);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
