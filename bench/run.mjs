// npm run bench: our training throughput beside PyTorch's on the same machine in the same sitting.
//  1. The side-by-side: `train --epochs 1 --max-steps 3000 --batch-size 4 --json` and 600 steps at
//     batch 32, against ../shared/anchors/torch_cifar_cnn.py with 1 and 2 threads for the same steps,
//     interleaved, repeated; medians and ratios.
//  2. `adam-trainer bench`: samples/s by batch size and worker count (worker scaling).
//  3. Peak resident memory of the seed experiment (VmHWM from /proc while it runs).
// Usage: node bench/run.mjs [--data DIR] [--repeats 3] [--quick]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const shared = join(root, '..', 'shared');
const data = opt('--data', existsSync(join(shared, 'data', 'cifar10-jpg')) ? join(shared, 'data', 'cifar10-jpg') : 'sample');
const repeats = Number(opt('--repeats', argv.includes('--quick') ? '1' : '3'));
const anchor = join(shared, 'anchors', 'torch_cifar_cnn.py');
const python = '/usr/bin/python3';
const bin = join(root, 'bin', 'adam-trainer.js');

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BROWSER: 'none' } });
    let out = '', err = '', peakKb = 0;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* exited */ }
    }, 50);
    child.on('close', (code) => {
      clearInterval(poll);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      resolve({ code, lines, err, peakMb: peakKb / 1024 });
    });
  });
}
const medianOf = (xs) => { const s = xs.filter((x) => x !== undefined); return s.length ? median(s) : undefined; };
const fmt = (x) => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));

const haveTorch = existsSync(anchor) && existsSync(python) && (await run(python, ['-c', 'import torch'])).code === 0;
console.log(`data: ${data}\ncores: ${cpus().length} (${cpus()[0].model})\nnode: ${process.version}\ntorch: ${haveTorch ? 'yes' : 'not installed (apt-get install -y python3-torch python3-pil python3-numpy libopenblas0-pthread)'}\n`);

const results = {};
for (const [batch, steps] of [[4, 3000], [32, 600]]) {
  const ours = [], t1 = [], t2 = [];
  for (let r = 0; r < repeats; r++) {
    const o = await run(process.execPath, [bin, 'train', '--data', data, '--epochs', '1', '--max-steps', String(steps), '--batch-size', String(batch), '--json']);
    ours.push(o.lines.find((l) => l.type === 'done')?.samplesPerSec);
    if (haveTorch) {
      for (const [threads, list] of [[1, t1], [2, t2]]) {
        const t = await run(python, [anchor, data, '--epochs', '1', '--max-steps', String(steps), '--batch-size', String(batch), '--threads', String(threads)]);
        list.push(t.lines.find((l) => l.type === 'done')?.samplesPerSec);
      }
    }
  }
  const best = Math.max(medianOf(t1) ?? 0, medianOf(t2) ?? 0);
  results[batch] = { ours: medianOf(ours), torch1: medianOf(t1), torch2: medianOf(t2), ratio: best ? medianOf(ours) / best : undefined, runs: { ours, torch1: t1, torch2: t2 } };
  console.log(`batch ${batch}, ${steps} steps (samples/s, median of ${repeats}): ours ${fmt(results[batch].ours)}  torch 1 thread ${fmt(results[batch].torch1)}  ` +
    `torch 2 threads ${fmt(results[batch].torch2)}  ratio vs better torch ${results[batch].ratio ? results[batch].ratio.toFixed(2) + 'x' : '-'}`);
}

console.log('\nadam-trainer bench (worker scaling):');
const b = await run(process.execPath, [bin, 'bench', '--data', data, '--json', '--windows', argv.includes('--quick') ? '3' : '7']);
const rows = b.lines.filter((l) => l.type === 'bench');
for (const r of rows) console.log(`  batch ${String(r.batchSize).padStart(4)}  workers ${r.workers}  ${fmt(r.samplesPerSec).padStart(7)} samples/s`);
for (const batch of [4, 32, 128]) {
  const one = rows.find((r) => r.batchSize === batch && r.workers === 1);
  const two = rows.find((r) => r.batchSize === batch && r.workers === 2);
  if (one && two) console.log(`  batch ${batch}: 2 workers / 1 worker = ${(two.samplesPerSec / one.samplesPerSec).toFixed(2)}x`);
}

console.log('\nseed experiment memory (Adam, batch 4, 2 epochs, default workers):');
const m = await run(process.execPath, [bin, 'train', '--data', data, '--json']);
const done = m.lines.find((l) => l.type === 'done');
console.log(`  peak RSS ${m.peakMb.toFixed(0)} MB; test accuracy ${done ? (100 * done.testAccuracy).toFixed(2) + '%' : '-'}; ${fmt(done?.samplesPerSec)} samples/s`);
console.log('\n' + JSON.stringify({ type: 'bench-summary', data, sideBySide: results, bench: rows, seedExperimentPeakRssMb: m.peakMb, seedExperiment: done }));
