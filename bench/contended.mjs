// Training throughput while another program keeps one core busy (issue 13): the seed's experiment on the real
// CIFAR-10 at batch 4 and 32, with 1 and 2 workers and the default, each run with a plain JavaScript busy loop in
// another process (as VS Code's renderer, a browser or a build would be), and idle for comparison. Prints the
// median samples/s of each cell over --repeats runs, interleaved so that drift in the machine's load is shared (each
// repeat in another order).
//   node bench/contended.mjs [--data DIR] [--steps4 12000] [--steps32 3000] [--repeats 9] [--load idle,busy,bursty,wakeups]
//                            [--root DIR (another checkout's build, to compare)] [--batch 4,32] [--workers 1,2,default]
//                            [--lead-ms 300]
// With --root, each cell of this build also prints its speed over the other build's, as the median of each repeat's
// ratio (`overRootPaired`).
// Besides each cell's median it prints, per load and batch, the default's speed over the best fixed count's, as the
// median of each repeat's ratio (a repeat's runs follow each other, so they share the machine's drift), with a 90%
// bootstrap interval of that median (`overBestFixedPaired90`) and the repeats in which the default was at least as fast.
// On this shared 2-core machine one configuration's runs vary by a third with a core busy (one worker at batch 32:
// 10,896-14,505 samples/s in 12 runs), so 3 or 5 repeats could not tell a 10% difference: --repeats is 9 by default.
// --lead-ms N: the other process starts N ms before each run (default 300), so that a run never measures the cores
// before the load is on them (before the twelfth round it started with the run).
// --load bursty: another process works in bursts, 12 ms of every 36 (a third of a core), as an editor's renderer does
// while it paints a dashboard (code-server's renderers, GPU process and extension host take about 0.35 cores, in
// frames).
// --load wakeups: another process wakes about 400 times a second and works 0.2 ms each time (0.08 of a core), as VS
// Code's processes do around an editor (bench/shards.ts measures what it costs a run, paired in one process).
// --steps N sets both step counts. A run of 3,000 steps at batch 4 trains for about a second: too short to tell a
// thread count from the machine's noise, so batch 4 runs 12,000 by default.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapMedian90, median } from './stats.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const data = arg('data', existsSync(join(here, '..', 'shared', 'data', 'cifar10-jpg')) ? join(here, '..', 'shared', 'data', 'cifar10-jpg') : 'sample');
const steps = { 4: Number(arg('steps4', arg('steps', 12000))), 32: Number(arg('steps32', arg('steps', 3000))) };
const loads = arg('load', 'idle,busy').split(',').map((l) => (l === 'busy' ? 'one core busy' : l));
for (const l of loads) if (!['idle', 'one core busy', 'bursty', 'wakeups'].includes(l)) throw new Error(`--load takes idle, busy, bursty and wakeups, got ${l}`);
const repeats = Number(arg('repeats', 9));
const burst = arg('burst', '12,24').split(',').map(Number); // --load bursty: ms of work, then ms of rest
const roots = [here, ...(arg('root') ? [arg('root')] : [])];
const batches = arg('batch', '4,32').split(',').map(Number);
const leadMs = Number(arg('lead-ms', 300));
const workerCounts = arg('workers', '1,2,default').split(',').map((w) => (w === 'default' ? w : Number(w)));

function busyLoop(load) {
  const work = (ms, rest) => `const burn = () => { const t = performance.now(); while (performance.now() - t < ${ms}); setTimeout(burn, ${rest}); }; burn();`;
  const script = load === 'bursty' ? work(burst[0], burst[1]) : load === 'wakeups' ? work(0.2, 2.3) : 'for(;;){}';
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

function train(root, batch, workers) {
  const args = [join(root, 'bin', 'adam-trainer.js'), 'train', '--data', data, '--batch-size', String(batch), '--max-steps', String(steps[batch] ?? 3000), '--seed', '1', '--json', '--log-every', String(steps[batch] ?? 3000), '--runs-dir', join(process.env.TMPDIR ?? '/tmp', 'adam-contended-runs')];
  if (workers !== 'default') args.push('--workers', String(workers));
  // A fixed count is fixed: the thread governor (sidecar/parallel/governor.ts) is off; only "default" adapts.
  const env = workers === 'default' ? process.env : { ...process.env, ADAM_TRAINER_FIXED_THREADS: '1' };
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, env });
  const done = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.type === 'done');
  if (!done) throw new Error(`no done line from ${root}: ${r.stderr.slice(-500)}`);
  return done;
}

const cells = [];
for (const load of loads) for (const batch of batches) for (const workers of workerCounts) for (const root of roots) cells.push({ load, batch, workers, root, results: [] });
// Within a load and batch size, each repeat starts one cell later than the one before, so that no worker count always
// runs first or last (on this machine the speed drifts within minutes).
const groups = [];
for (const c of cells) {
  const g = groups.at(-1);
  if (g && g[0].load === c.load && g[0].batch === c.batch) g.push(c);
  else groups.push([c]);
}
for (let r = 0; r < repeats; r++) {
  for (const c of groups.flatMap((g) => [...g.slice(r % g.length), ...g.slice(0, r % g.length)])) {
    const busy = c.load === 'idle' ? null : busyLoop(c.load);
    if (busy) await new Promise((resolve) => setTimeout(resolve, leadMs));
    try {
      const done = train(c.root, c.batch, c.workers);
      c.results.push(done.samplesPerSec);
      (c.hashes ??= []).push(done.parametersSha256);
    } finally {
      busy?.kill('SIGKILL');
    }
  }
}
// The default against the best fixed count of the same repeat, for each load, batch and build.
for (const c of cells.filter((x) => x.workers === 'default')) {
  const fixed = cells.filter((x) => x.load === c.load && x.batch === c.batch && x.root === c.root && x.workers !== 'default');
  if (fixed.length === 0) continue;
  c.overBestFixed = c.results.map((d, r) => d / Math.max(...fixed.map((f) => f.results[r])));
  // The worker count the default trained with, told by its numbers: the fixed count whose final weights it matches bit
  // for bit (a run's numbers are its worker count's, whatever threads ran them).
  c.trainedAs = c.hashes.map((h) => fixed.find((f) => f.hashes.includes(h))?.workers ?? '?');
}
for (const c of cells.filter((x) => x.root === here && roots.length > 1)) {
  const other = cells.find((x) => x.load === c.load && x.batch === c.batch && x.workers === c.workers && x.root !== here);
  c.overRoot = c.results.map((x, r) => x / other.results[r]);
}
for (const c of cells) {
  const line = { load: c.load, batch: c.batch, workers: c.workers, build: c.root === here ? 'this' : c.root, samplesPerSecMedian: Math.round(median(c.results)), runs: c.results.map(Math.round), ...(c.overRoot ? { overRootPaired: +median(c.overRoot).toFixed(3) } : {}), ...(c.overBestFixed ? { overBestFixedPaired: +median(c.overBestFixed).toFixed(3), overBestFixedPaired90: bootstrapMedian90(c.overBestFixed).map((x) => +x.toFixed(3)), atLeastAsFast: `${c.overBestFixed.filter((x) => x >= 1).length} of ${c.overBestFixed.length}`, overBestFixed: c.overBestFixed.map((x) => +x.toFixed(3)), trainedAsWorkers: c.trainedAs } : {}) };
  console.log(JSON.stringify(line));
}
