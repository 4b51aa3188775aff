// Micro-benchmark of the WebAssembly kernels, single thread: trainShard samples/s at several shard sizes for
// both builds (plain SIMD and relaxed SIMD), plus evalShard and adamStep. Run `node scripts/build.mjs` first.
//   node bench/kernels.mjs [--counts 2,4,16] [--ms 1500] [--builds simd,relaxed]
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const counts = arg('counts', '2,4,16').split(',').map(Number);
const budgetMs = Number(arg('ms', '1500'));
const builds = arg('builds', 'simd,relaxed').split(',');
const dir = arg('dir', join(root, 'dist'));

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const PARAMS = [[450, 75], [6, 75], [2400, 150], [16, 150], [48000, 400], [120, 400], [10080, 120], [84, 120], [840, 84], [10, 84]];
const NP = 62006;
const POOL = 2048;

function rand(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function run(build) {
  const bytes = readFileSync(join(dir, `kernels-${build}.wasm`));
  const module = new WebAssembly.Module(bytes);
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 16384, shared: true });
  const k = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('abort'); } } }).exports;
  let top = k.heapBase();
  const alloc = (n) => { const p = Math.ceil(top / 64) * 64; top = p + n; return p; };
  const maxCount = Math.max(...counts);
  const P = alloc(NP * 4 + 16), G = alloc(NP * 4 + 16), M = alloc(NP * 4 + 16), V = alloc(NP * 4 + 16);
  const images = alloc(POOL * 3072), labels = alloc(POOL), indices = alloc(maxCount * 4), stats = alloc(16);
  const preds = alloc(maxCount * 4);
  const scratch = alloc(k.scratchBytes(maxCount));
  if (top > memory.buffer.byteLength) throw new Error('memory too small');
  const r = rand(1);
  const p = new Float32Array(memory.buffer, P, NP);
  let o = 0;
  for (const [n, fanIn] of PARAMS) { const b = 1 / Math.sqrt(fanIn); for (let i = 0; i < n; i++) p[o++] = (2 * r() - 1) * b; }
  const img = new Uint8Array(memory.buffer, images, POOL * 3072);
  for (let i = 0; i < img.length; i++) img[i] = (r() * 256) | 0;
  const lab = new Uint8Array(memory.buffer, labels, POOL);
  for (let i = 0; i < POOL; i++) lab[i] = (r() * 10) | 0;
  const idx = new Int32Array(memory.buffer, indices, maxCount);
  const line = [];
  for (const count of counts) {
    const times = [];
    const t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < budgetMs || times.length < 20) {
      for (let i = 0; i < count; i++) idx[i] = (r() * POOL) | 0;
      const a = performance.now();
      const reps = Math.max(1, Math.round(32 / count));
      for (let j = 0; j < reps; j++) k.trainShard(P, G, images, labels, indices, count, 1 / count, scratch, stats);
      times.push((performance.now() - a) / (reps * count));
      calls++;
    }
    line.push(`train count ${String(count).padStart(2)}: ${Math.round(1000 / median(times)).toString().padStart(6)} samples/s`);
  }
  {
    const count = Math.min(maxCount, 16);
    const times = [];
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs / 2 || times.length < 20) {
      for (let i = 0; i < count; i++) idx[i] = (r() * POOL) | 0;
      const a = performance.now();
      k.evalShard(P, images, labels, indices, count, scratch, preds);
      times.push((performance.now() - a) / count);
    }
    line.push(`eval: ${Math.round(1000 / median(times))} samples/s`);
  }
  {
    new Float32Array(memory.buffer, M, NP).fill(0);
    new Float32Array(memory.buffer, V, NP).fill(0);
    const times = [];
    const t0 = performance.now();
    let t = 0;
    while (performance.now() - t0 < budgetMs / 4 || times.length < 20) {
      t++;
      const a = performance.now();
      k.adamStep(P, G, 0, 1, M, V, 0, 0, NP, 1e-9, 0.9, 0.999, 1e-8, 0, 1 - 0.9 ** t, 1 - 0.999 ** t, 0);
      times.push(performance.now() - a);
    }
    line.push(`adamStep (62,006 params): ${(median(times) * 1000).toFixed(1)} us`);
  }
  console.log(`${build.padEnd(8)} ${line.join(' | ')}`);
}

for (const b of builds) run(b);
