// A finished run of N steps written with the product's own run store, for bench/page.mjs: every step's loss in
// losses.f32, a metrics line every `every` steps (a real run records one a second: a million steps at the
// README's 1,852 samples/s is about 2,200 lines; the default, 10,000 lines, is well past that), an evaluation per
// 12,500 steps and a few edits.   node --import tsx bench/longRun.ts RUNS_DIR RUN_ID [--steps 1000000] [--every 100]
import { resolveConfig, type MetricsMessage } from '../sidecar/protocol';
import { RunStore } from '../sidecar/store/runs';

const [runsDir, runId] = process.argv.slice(2);
const arg = (name: string, fallback: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : fallback; };
const steps = arg('steps', 1_000_000);
const every = arg('every', 100);
if (!runsDir || !runId) throw new Error('usage: longRun.ts RUNS_DIR RUN_ID [--steps N] [--every N]');

const store = new RunStore(runsDir);
store.createRun(runId, resolveConfig({ data: 'sample', epochs: Math.ceil(steps / 12_500), seed: 3 }, 2));
const loss = (i: number) => 0.6 + 1.7 * Math.exp(-i / 200_000) + 0.25 * Math.sin(i * 0.61) * Math.cos(i * 0.013);
const block = new Float32Array(100_000);
for (let at = 0; at < steps; at += block.length) {
  const n = Math.min(block.length, steps - at);
  for (let i = 0; i < n; i++) block[i] = loss(at + i);
  store.appendLosses(runId, block.subarray(0, n));
}
let lr = 0.001;
for (let step = every; step <= steps; step += every) {
  if (step % 250_000 === 0) {
    store.appendEvent(runId, { type: 'applied', runId, step, changes: { learningRate: { from: lr, to: lr / 2 } } });
    lr /= 2;
  }
  const m: MetricsMessage = {
    type: 'metrics', runId, step, epoch: step / 12_500, samplesSeen: step * 4, loss: loss(step - 1), lossMin: loss(step - 1) - 0.3, lossMax: loss(step - 1) + 0.4,
    accuracy: Math.min(0.9, 0.1 + step / 1_500_000), learningRate: lr, samplesPerSec: 14_000 + 500 * Math.sin(step / 7000),
    updateRatio: { conv1: 0.4, conv2: 0.5, fc1: 0.3, fc2: 0.25, fc3: 0.2 },
  };
  store.appendEvent(runId, m);
  if (step % 12_500 === 0) {
    const acc = Math.min(0.65, 0.3 + step / 3_000_000);
    store.appendEvent(runId, { type: 'eval', runId, step, epoch: step / 12_500, testLoss: 1.2, testAccuracy: acc, perClassAccuracy: Array(10).fill(acc), confusion: Array.from({ length: 10 }, (_, r) => Array.from({ length: 10 }, (_, c) => (r === c ? 60 : 4))) });
  }
}
store.appendEvent(runId, { type: 'state', runId, state: 'done', step: steps });
store.close(runId);
