// Per-kernel timing (single thread): builds sidecar/kernels/assembly/profile.ts (both variants) into a temp
// directory, runs trainShard once on random data to fill the scratch state, then times each layer kernel.
//   node bench/kernels-profile.mjs [--count 4] [--builds simd,relaxed] [--real (fixture images and initial parameters)]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { rand } from './random.mjs';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] : def; };
const count = Number(arg('count', '4'));
const builds = arg('builds', 'simd,relaxed').split(',');
const tmp = mkdtempSync(join(tmpdir(), 'kprof-'));
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const common = [join(root, 'sidecar', 'kernels', 'assembly', 'profile.ts'), '-O3', '--runtime', 'stub', '--noAssert', '--importMemory',
  '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '16384', '--enable', 'simd', '--enable', 'threads'];
const PARAMS = [[450, 75], [6, 75], [2400, 150], [16, 150], [48000, 400], [120, 400], [10080, 120], [84, 120], [840, 84], [10, 84]];
const NP = 62006, POOL = 256;
const fixturePath = join(root, 'test', 'fixtures', 'cnn-adam-pytorch.json');
const fixture = process.argv.includes('--real') ? JSON.parse(readFileSync(fixturePath, 'utf8')) : null;

function timeUs(fn, reps) {
  const xs = [];
  for (let i = 0; i < 15; i++) { const a = performance.now(); fn(reps); xs.push((performance.now() - a) * 1000 / reps); }
  return Math.min(...xs); // best of 15: robust when other processes share the cores
}

for (const b of builds) {
  const out = join(tmp, `${b}.wasm`);
  execFileSync(process.execPath, [asc, ...common, ...(b === 'relaxed' ? ['--enable', 'relaxed-simd', '--use', 'RELAXED=1'] : ['--use', 'RELAXED=0']), '-o', out], { stdio: 'inherit' });
  const memory = new WebAssembly.Memory({ initial: 512, maximum: 16384, shared: true });
  const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { memory } }).exports;
  let top = k.heapBase();
  const alloc = (n) => { const p = Math.ceil(top / 64) * 64; top = p + n; return p; };
  const P = alloc(NP * 4 + 16), G = alloc(NP * 4 + 16), images = alloc(POOL * 3072), labels = alloc(POOL), indices = alloc(4 * count), stats = alloc(16);
  const scratch = alloc(k.scratchBytes(count));
  const r = rand(1);
  const p = new Float32Array(memory.buffer, P, NP);
  let o = 0;
  for (const [n, fanIn] of PARAMS) { const bd = 1 / Math.sqrt(fanIn); for (let i = 0; i < n; i++) p[o++] = (2 * r() - 1) * bd; }
  const img = new Uint8Array(memory.buffer, images, POOL * 3072);
  for (let i = 0; i < img.length; i++) img[i] = (r() * 256) | 0;
  if (fixture) {
    // real CIFAR-10 images and PyTorch's initial parameters from the test fixture: realistic ReLU sparsity
    const u8 = fixture.training.images_u8;
    for (let i = 0; i < img.length; i++) img[i] = u8[i % u8.length];
    let q = 0;
    for (const name of Object.keys(fixture.init_params)) { const d = fixture.init_params[name].data; for (let i = 0; i < d.length; i++) p[q++] = d[i]; }
  }
  const lab = new Uint8Array(memory.buffer, labels, POOL);
  for (let i = 0; i < POOL; i++) lab[i] = (r() * 10) | 0;
  const idx = new Int32Array(memory.buffer, indices, count);
  for (let i = 0; i < count; i++) idx[i] = i;
  const R = 200;
  const total = timeUs((n) => { for (let i = 0; i < n; i++) k.trainShard(P, G, images, labels, indices, count, 1 / count, scratch, stats); }, 50) / count;
  const cnt = new Int32Array(memory.buffer, scratch + k.profCountsOffset(), 16);
  const rows = [
    ['normalise', timeUs((n) => k.profNormalise(images, scratch, n), R)],
    ['transpose image', timeUs((n) => k.profTransposeImage(scratch, count, n), R)],
    ['prepare conv1 (per call)', timeUs((n) => k.profPrepareConv1(P, scratch, n), R) / count],
    ['conv1 fwd', timeUs((n) => k.profConv1(P, scratch, n), R)],
    ['pool1', timeUs((n) => k.profPool1(scratch, count, n), R)],
    ['transpose w2 (per call)', timeUs((n) => k.profTranspose2(P, scratch, n), R) / count],
    ['conv2 fwd', timeUs((n) => k.profConv2(P, scratch, count, n), R)],
    ['pool2', timeUs((n) => k.profPool2(scratch, count, n), R)],
    ['fc fwd (per sample)', timeUs((n) => k.profFcForward(P, scratch, count, n), R) / count],
    ['fc bwd (per sample)', timeUs((n) => k.profFcBackward(P, G, scratch, count, n), R) / count],
    ['conv entries+dP1 (per sample)', timeUs((n) => k.profConvEntries(P, scratch, count, n), R) / count],
    ['conv2 dW (per sample)', timeUs((n) => k.profConv2W(G, scratch, count, n), R) / count],
    ['conv1 dW (per sample)', timeUs((n) => k.profConv1W(G, scratch, count, n), R) / count],
  ];
  const sum = rows.reduce((a, [, t]) => a + t, 0);
  console.log(`${b}: trainShard ${total.toFixed(1)} us/sample at count ${count} (${Math.round(1e6 / total)}/s); parts sum ${sum.toFixed(1)} us; conv2 gradient entries per channel (of ${25 * count}) ${Array.from(cnt).join(',')}`);
  for (const [name, t] of rows) console.log(`  ${name.padEnd(32)} ${t.toFixed(2).padStart(7)} us`);
}
