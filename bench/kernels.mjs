// Micro-benchmark of the WebAssembly kernels: trainShard samples/s at several shard sizes for both builds
// (plain SIMD and relaxed SIMD), single thread, plus evalShard, adamStep and a worker's optimizer slice (the gradient
// summed over 2 or 8 shards' buffers, by stride or through the rescue's table); optionally N worker threads
// training concurrently on one shared memory (aggregate samples/s, no barriers: the kernels' ceiling).
// Run `node scripts/build.mjs` first.
//   node bench/kernels.mjs [--counts 2,4,16] [--ms 1500] [--builds simd,relaxed] [--workers 2] [--real]
// --real uses the CIFAR-10 images and PyTorch initial parameters of test/fixtures/cnn-adam-pytorch.json
// (realistic ReLU sparsity) instead of random bytes and a random initialisation.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import v8 from 'node:v8';
import { rand } from './random.mjs';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const counts = arg('counts', '2,4,16').split(',').map(Number);
const budgetMs = Number(arg('ms', '1500'));
const builds = arg('builds', 'simd,relaxed').split(',');
const workers = Number(arg('workers', '0'));
const dir = arg('dir', join(root, 'dist'));
const real = process.argv.includes('--real');

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const PARAMS = [[450, 75], [6, 75], [2400, 150], [16, 150], [48000, 400], [120, 400], [10080, 120], [84, 120], [840, 84], [10, 84]];
const NP = 62006;
const POOL = 2048;



function setup(build, maxCount, nScratch) {
  const module = new WebAssembly.Module(readFileSync(join(dir, `kernels-${build}.wasm`)));
  const memory = new WebAssembly.Memory({ initial: 2048, maximum: 16384, shared: true });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let top = k.heapBase();
  const alloc = (n) => { const p = Math.ceil(top / 64) * 64; top = p + n; return p; };
  const L = { P: alloc(NP * 4), M: alloc(NP * 4), V: alloc(NP * 4), images: alloc(POOL * 3072), labels: alloc(POOL) };
  L.slots = [...Array(nScratch)].map(() => ({ G: alloc(NP * 4), indices: alloc(maxCount * 4), stats: alloc(64), preds: alloc(maxCount * 4), scratch: alloc(k.scratchBytes(maxCount)) }));
  if (top > memory.buffer.byteLength) throw new Error('memory too small');
  const r = rand(1);
  const p = new Float32Array(memory.buffer, L.P, NP);
  const img = new Uint8Array(memory.buffer, L.images, POOL * 3072);
  const lab = new Uint8Array(memory.buffer, L.labels, POOL);
  if (real) {
    const fx = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'cnn-adam-pytorch.json'), 'utf8'));
    let o = 0;
    for (const name of Object.keys(fx.init_params)) for (const x of fx.init_params[name].data) p[o++] = x;
    const u8 = fx.training.images_u8;
    for (let i = 0; i < img.length; i++) img[i] = u8[i % u8.length];
    for (let i = 0; i < POOL; i++) lab[i] = fx.training.labels[i % fx.training.labels.length];
  } else {
    let o = 0;
    for (const [n, fanIn] of PARAMS) { const b = 1 / Math.sqrt(fanIn); for (let i = 0; i < n; i++) p[o++] = (2 * r() - 1) * b; }
    for (let i = 0; i < img.length; i++) img[i] = (r() * 256) | 0;
    for (let i = 0; i < POOL; i++) lab[i] = (r() * 10) | 0;
  }
  return { module, memory, k, L, r, alloc };
}

function runSingle(build) {
  const maxCount = Math.max(...counts);
  const { memory, k, L, r, alloc } = setup(build, maxCount, 1);
  const S = L.slots[0];
  const idx = new Int32Array(memory.buffer, S.indices, maxCount);
  const line = [];
  for (const count of counts) {
    const times = [];
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs || times.length < 20) {
      for (let i = 0; i < count; i++) idx[i] = (r() * POOL) | 0;
      const reps = Math.max(1, Math.round(32 / count));
      const a = performance.now();
      for (let j = 0; j < reps; j++) k.trainShard(L.P, S.G, L.images, L.labels, S.indices, count, 1 / count, S.scratch, S.stats);
      times.push((performance.now() - a) / (reps * count));
    }
    line.push(`train count ${String(count).padStart(2)}: ${String(Math.round(1000 / median(times))).padStart(6)}/s (best ${Math.round(1000 / Math.min(...times))})`);
  }
  {
    const count = Math.min(maxCount, 16);
    const times = [];
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs / 2 || times.length < 20) {
      for (let i = 0; i < count; i++) idx[i] = (r() * POOL) | 0;
      const a = performance.now();
      k.evalShard(L.P, L.images, L.labels, S.indices, count, S.scratch, S.preds);
      times.push((performance.now() - a) / count);
    }
    line.push(`eval: ${Math.round(1000 / median(times))}/s`);
  }
  {
    const times = [];
    const t0 = performance.now();
    let t = 0;
    while (performance.now() - t0 < budgetMs / 4 || times.length < 20) {
      t++;
      const a = performance.now();
      k.adamStep(L.P, S.G, NP * 4, 1, L.M, L.V, 0, 0, NP, 1e-9, 0.9, 0.999, 1e-8, 0, 1 - 0.9 ** t, 1 - 0.999 ** t, 0);
      times.push(performance.now() - a);
    }
    line.push(`adamStep (all 62,006 params): ${(median(times) * 1000).toFixed(1)} us`);
  }
  // A worker's optimizer task: half the parameters, the gradient summed over the step's shards (2 at batch 4, 8 at batch
  // 32 with two workers), found by their stride or, once a rescue has swapped a buffer, through the table.
  for (const K of [2, 8]) {
    const stride = NP * 4 + 64 - ((NP * 4) % 64);
    const G = alloc(K * stride), T = alloc(K * 4);
    if (alloc(0) > memory.buffer.byteLength) throw new Error('memory too small');
    for (let q = 0; q < K; q++) {
      const g = new Float32Array(memory.buffer, G + q * stride, NP);
      for (let i = 0; i < NP; i++) g[i] = (r() - 0.5) * 1e-3;
    }
    new Int32Array(memory.buffer, T, K).set([...Array(K).keys()].reverse().map((q) => G + q * stride));
    const half = Math.floor(NP / 2);
    const slice = (table) => {
      const times = [];
      const t0 = performance.now();
      while (performance.now() - t0 < budgetMs / 8 || times.length < 50) {
        const a = performance.now();
        k.adamStep(L.P, table ? T : G, table ? 0 : stride, K, L.M, L.V, 0, 0, half, 1e-9, 0.9, 0.999, 1e-8, 0, 0.1, 0.001, 0);
        times.push(performance.now() - a);
      }
      return (median(times) * 1000).toFixed(1);
    };
    slice(false);
    line.push(`adamStep slice (${half.toLocaleString('en')} params) of ${K} buffers: ${slice(false)} us by stride, ${slice(true)} us through the table`);
  }
  console.log(`${build.padEnd(8)} single thread, median samples/s: ${line.join(' | ')}`);
}

const workerCode = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { module, memory, L, slot, count, ms, pool, seed } = workerData;
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const idx = new Int32Array(memory.buffer, slot.indices, count);
  let a = seed >>> 0;
  const r = () => { a = (a * 1664525 + 1013904223) >>> 0; return a / 4294967296; };
  parentPort.once('message', () => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      for (let i = 0; i < count; i++) idx[i] = (r() * pool) | 0;
      k.trainShard(L.P, slot.G, L.images, L.labels, slot.indices, count, 1 / count, slot.scratch, slot.stats);
      n += count;
    }
    parentPort.postMessage(n / ((performance.now() - t0) / 1000));
  });
`;

async function runWorkers(build) {
  for (const count of counts) {
    const { module, memory, L } = setup(build, count, workers);
    const ws = L.slots.map((slot, w) => new Worker(workerCode, { eval: true, workerData: { module, memory, L, slot, count, ms: budgetMs, pool: POOL, seed: 17 + w } }));
    await new Promise((res) => setTimeout(res, 200)); // let them instantiate
    const rates = await Promise.all(ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); w.postMessage('go'); })));
    await Promise.all(ws.map((w) => w.terminate()));
    console.log(`${build.padEnd(8)} ${workers} workers, count ${count} each: ${Math.round(rates.reduce((a, b) => a + b, 0))} samples/s total (${rates.map((x) => Math.round(x)).join(' + ')})`);
  }
}

for (const b of builds) {
  runSingle(b);
  if (workers > 0) await runWorkers(b);
}
