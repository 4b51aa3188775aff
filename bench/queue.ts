// What queueing the next chunk saves (issue 13): the same run with chunks posted one at a time (the engine's threads
// wait while the sidecar's main thread wakes, reads the results, sends metrics and posts the next) and with the next
// one queued while one trains, interleaved. For each it prints the median samples/s over the wall clock (first log
// line to the end) and the share of the time the threads waited for the main thread between chunks.
//   node --import tsx bench/queue.ts [--data DIR] [--batch 4,32] [--steps4 12000] [--steps32 3000] [--repeats 5]
//                                    [--log-every 100] [--load idle|bursty]
// --load bursty: another process busy 12 ms of every 36, as an editor that paints (bench/contended.mjs).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../sidecar/protocol';
import { RunStore } from '../sidecar/store/runs';
import { Run } from '../sidecar/trainer';

const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const shared = join(__dirname, '..', '..', 'shared', 'data', 'cifar10-jpg');
const data = arg('data', existsSync(shared) ? shared : 'sample');
const batches = arg('batch', '4,32').split(',').map(Number);
const steps: Record<number, number> = { 4: Number(arg('steps4', '12000')), 32: Number(arg('steps32', '3000')) };
const repeats = Number(arg('repeats', '5'));
const logEvery = Number(arg('log-every', '100'));
const load = arg('load', 'idle');
if (!['idle', 'bursty'].includes(load)) throw new Error(`--load takes idle or bursty, got ${load}`);

// One cache of the decoded dataset for every trial (each run's folder is removed after it).
const cacheDir = mkdtempSync(join(tmpdir(), 'adam-queue-cache-'));

async function trial(batchSize: number, queueChunks: boolean) {
  const runsDir = mkdtempSync(join(tmpdir(), 'adam-queue-'));
  try {
    return await trialIn(runsDir, batchSize, queueChunks);
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
}

async function trialIn(runsDir: string, batchSize: number, queueChunks: boolean) {
  const store = new RunStore(runsDir);
  const config = resolveConfig({ data, batchSize, seed: 1, maxSteps: steps[batchSize] ?? 3000, logEvery, epochs: 1000 }, 2);
  store.createRun('q', config);
  const run = new Run({ runId: 'q', config, store, cacheDir, queueChunks });
  let first: { at: number; step: number } | null = null;
  let last = { at: 0, step: 0 };
  run.on('log', (m: { step: number }) => {
    last = { at: performance.now(), step: m.step };
    first ??= last;
  });
  await run.start();
  if (!first || last.step <= first.step) throw new Error('too few log lines: lower --log-every');
  const f = first as { at: number; step: number };
  const { training, waiting } = run.threadSeconds;
  return { samplesPerSec: ((last.step - f.step) * batchSize) / ((last.at - f.at) / 1000), waitingShare: waiting / (training + waiting), queued: run.chunksQueued };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const busy = load === 'bursty'
    ? spawn(process.execPath, ['-e', 'const burn = () => { const t = performance.now(); while (performance.now() - t < 12); setTimeout(burn, 24); }; burn();'], { stdio: 'ignore' })
    : null;
  try {
    for (const batch of batches) {
      const cells = { oneAtATime: [] as Array<Awaited<ReturnType<typeof trial>>>, queued: [] as Array<Awaited<ReturnType<typeof trial>>> };
      await trial(batch, true); // warm-up: the dataset's cache, the JIT
      for (let r = 0; r < repeats; r++) {
        cells.oneAtATime.push(await trial(batch, false));
        cells.queued.push(await trial(batch, true));
      }
      const row = (xs: typeof cells.queued) => ({
        samplesPerSec: Math.round(median(xs.map((x) => x.samplesPerSec))),
        waitingPercent: +(100 * median(xs.map((x) => x.waitingShare))).toFixed(2),
        runs: xs.map((x) => Math.round(x.samplesPerSec)),
      });
      const one = row(cells.oneAtATime);
      const queued = row(cells.queued);
      // Each queued run against the one-at-a-time run just before it: the median of those ratios is robust to drift.
      const paired = median(cells.queued.map((q, i) => q.samplesPerSec / cells.oneAtATime[i].samplesPerSec));
      console.log(JSON.stringify({ batch, load, logEvery, oneAtATime: one, queued, pairedRatio: +paired.toFixed(3) }));
    }
  } finally {
    busy?.kill('SIGKILL');
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
