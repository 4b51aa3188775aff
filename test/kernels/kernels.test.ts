// WebAssembly kernels (both builds) against PyTorch 1.13's numbers (test/fixtures/cnn-adam-pytorch.json) and
// against straightforward float64 optimizers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { PARAMETERS, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { ADAM_FLAG_ADAMW, ADAM_FLAG_AMSGRAD, compileKernels, kernelWasmPath } from '../../sidecar/kernels/loader';
import { BUILDS, Harness, flatten, loadFixture, rng, worst } from './harness';

const NP = PARAMETER_COUNT;

function expectClose(name: string, a: ArrayLike<number>, b: ArrayLike<number>, abs: number, rel: number): void {
  const [w, at] = worst(a, b, abs, rel);
  assert.ok(w <= 1, `${name}: worst at ${at}: got ${a[at]}, expected ${b[at]} (ratio to tolerance ${w})`);
}

function expectGrads(name: string, g: ArrayLike<number>, ref: Float64Array): void {
  for (const p of PARAMETERS) {
    expectClose(`${name} ${p.name}`, Array.from(g).slice(p.offset, p.offset + p.size), ref.subarray(p.offset, p.offset + p.size), 1e-6, 1e-4);
  }
}

interface Setup {
  h: Harness;
  P: number;
  G: number[];
  images: number;
  labels: number;
  indices: number;
  stats: number;
  scratch: number[];
}

function setup(relaxed: boolean, instances: number, nImages: number, maxCount: number): Setup {
  const h = new Harness(relaxed, instances);
  const P = h.alloc(NP * 4);
  const G = h.k.map(() => h.alloc(NP * 4));
  const images = h.alloc(nImages * 3072);
  const labels = h.alloc(nImages);
  const indices = h.alloc(4 * Math.max(nImages, 16));
  const stats = h.alloc(64);
  const scratch = h.k.map((k) => h.alloc(k.scratchBytes(maxCount)));
  return { h, P, G, images, labels, indices, stats, scratch };
}

/** A table of the offsets of K gradient buffers at G + q * stride, listed last buffer first: with stride 0 the optimizers
 *  find the buffers through it (in the table's order), not by address order. */
function gradTable(h: Harness, G: number, stride: number, K: number): number {
  const T = h.alloc(K * 4);
  h.i32(T, K).set([...Array(K)].map((_, q) => G + (K - 1 - q) * stride));
  return T;
}

function argmax(xs: ArrayLike<number>, from: number, n: number): number {
  let b = from;
  for (let i = from + 1; i < from + n; i++) if (xs[i] > xs[b]) b = i;
  return b - from;
}

test('loader finds both builds; the plain-SIMD build needs no V8 flag, the relaxed one does', () => {
  for (const b of BUILDS) assert.ok(kernelWasmPath(b.relaxed).endsWith(`kernels-${b.name}.wasm`));
  for (const b of BUILDS) assert.ok(compileKernels(b.relaxed) instanceof WebAssembly.Module);
  // a fresh process without --experimental-wasm-relaxed-simd (relaxed SIMD is not on by default in Node 20)
  const code = `const fs = require('fs');
    const ok = (p) => WebAssembly.validate(fs.readFileSync(p));
    console.log(JSON.stringify([ok(${JSON.stringify(kernelWasmPath(false))}), ok(${JSON.stringify(kernelWasmPath(true))})]));`;
  const out = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  const [simdOk, relaxedOk] = JSON.parse(out.stdout) as [boolean, boolean];
  assert.equal(simdOk, true);
  if (process.versions.node.startsWith('20.')) assert.equal(relaxedOk, false);
});

for (const build of BUILDS) {
  test(`${build.name}: first batch logits, loss and gradients match PyTorch (one shard of 4, two shards of 2)`, () => {
    const fx = loadFixture();
    const s = setup(build.relaxed, 2, 4, 4);
    const { h } = s;
    h.f32(s.P, NP).set(flatten(fx.init_params));
    h.u8(s.images, 4 * 3072).set(fx.first_batch.images_u8);
    h.u8(s.labels, 4).set(fx.first_batch.labels);
    h.i32(s.indices, 4).set([0, 1, 2, 3]);
    const refGrads = flatten(fx.first_batch.grads);

    const out = h.alloc(4 * 40);
    h.k[0].logitsShard(s.P, s.images, s.indices, 4, s.scratch[0], out);
    expectClose('logits', h.f32(out, 40), fx.first_batch.logits, 1e-6, 1e-4);
    let correct = 0;
    for (let i = 0; i < 4; i++) if (argmax(fx.first_batch.logits, i * 10, 10) === fx.first_batch.labels[i]) correct++;

    // one shard of 4
    h.f32(s.G[0], NP).fill(123); // must be overwritten
    const loss = h.k[0].trainShard(s.P, s.G[0], s.images, s.labels, s.indices, 4, 0.25, s.scratch[0], s.stats);
    expectClose('loss', [loss / 4], [fx.first_batch.loss], 1e-6, 1e-4);
    assert.equal(h.i32(s.stats, 1)[0], correct);
    expectGrads('one shard', h.f32(s.G[0], NP), refGrads);

    // two shards of 2 on two instances (separate scratch and gradient buffers), summed
    const idx2 = h.alloc(16);
    h.i32(idx2, 2).set([2, 3]);
    const l0 = h.k[0].trainShard(s.P, s.G[0], s.images, s.labels, s.indices, 2, 0.25, s.scratch[0], s.stats);
    const c0 = h.i32(s.stats, 1)[0];
    const l1 = h.k[1].trainShard(s.P, s.G[1], s.images, s.labels, idx2, 2, 0.25, s.scratch[1], s.stats + 4);
    const c1 = h.i32(s.stats + 4, 1)[0];
    expectClose('loss (2 shards)', [(l0 + l1) / 4], [fx.first_batch.loss], 1e-6, 1e-4);
    assert.equal(c0 + c1, correct);
    const g0 = h.f32(s.G[0], NP), g1 = h.f32(s.G[1], NP);
    const sum = new Float64Array(NP);
    for (let i = 0; i < NP; i++) sum[i] = g0[i] + g1[i];
    expectGrads('two shards', sum, refGrads);

    // shard of 1 + shard of 3 (odd sizes)
    h.i32(idx2, 3).set([1, 2, 3]);
    const l2 = h.k[0].trainShard(s.P, s.G[0], s.images, s.labels, s.indices, 1, 0.25, s.scratch[0], s.stats);
    const l3 = h.k[1].trainShard(s.P, s.G[1], s.images, s.labels, idx2, 3, 0.25, s.scratch[1], s.stats + 4);
    expectClose('loss (1+3)', [(l2 + l3) / 4], [fx.first_batch.loss], 1e-6, 1e-4);
    for (let i = 0; i < NP; i++) sum[i] = g0[i] + g1[i];
    expectGrads('shards of 1 and 3', sum, refGrads);

    // an empty shard zeroes the gradients
    h.f32(s.G[0], NP).fill(7);
    h.i32(s.stats, 1)[0] = 99;
    assert.equal(h.k[0].trainShard(s.P, s.G[0], s.images, s.labels, s.indices, 0, 0.25, s.scratch[0], s.stats), 0);
    assert.equal(h.i32(s.stats, 1)[0], 0);
    assert.ok(h.f32(s.G[0], NP).every((x) => x === 0));
  });

  test(`${build.name}: 20 Adam steps at batch 4 match PyTorch (losses and final parameters)`, () => {
    const fx = loadFixture();
    const { steps, images_u8, labels, losses } = fx.training;
    const B = fx.batch_size;
    const s = setup(build.relaxed, 2, steps * B, 2);
    const { h } = s;
    const M = h.alloc(NP * 4), V = h.alloc(NP * 4);
    h.f32(s.P, NP).set(flatten(fx.init_params));
    h.u8(s.images, steps * B * 3072).set(images_u8);
    h.u8(s.labels, steps * B).set(labels);
    // two workers' gradient buffers must be adjacent with a fixed stride for adamStep
    const stride = NP * 4 + 64 - ((NP * 4) % 64);
    const G = h.alloc(2 * stride);
    const idxA = h.alloc(16), idxB = h.alloc(16);
    const { lr, beta1, beta2, eps } = fx.adam;
    for (let t = 0; t < steps; t++) {
      h.i32(idxA, 2).set([t * B, t * B + 1]);
      h.i32(idxB, 2).set([t * B + 2, t * B + 3]);
      const la = h.k[0].trainShard(s.P, G, s.images, s.labels, idxA, 2, 1 / B, s.scratch[0], s.stats);
      const lb = h.k[1].trainShard(s.P, G + stride, s.images, s.labels, idxB, 2, 1 / B, s.scratch[1], s.stats + 4);
      expectClose(`loss at step ${t}`, [(la + lb) / B], [losses[t]], 0, 1e-4);
      const step = t + 1;
      const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
      // parameter range split between the two "workers"
      h.k[0].adamStep(s.P, G, stride, 2, M, V, 0, 0, 31000, lr, beta1, beta2, eps, 0, bc1, bc2, 0);
      h.k[1].adamStep(s.P, G, stride, 2, M, V, 0, 31000, NP, lr, beta1, beta2, eps, 0, bc1, bc2, 0);
    }
    const ref = flatten(fx.training.final_params);
    for (const p of PARAMETERS) {
      expectClose(`final ${p.name}`, Array.from(h.f32(s.P + p.offset * 4, p.size)), ref.subarray(p.offset, p.offset + p.size), 0.05 * lr, 1e-3);
    }
  });

  test(`${build.name}: evalShard and logitsShard agree with trainShard`, () => {
    const fx = loadFixture();
    const n = 11; // not a multiple of the eval chunk
    const s = setup(build.relaxed, 1, 20 * 4, n);
    const { h } = s;
    const k = h.k[0];
    h.f32(s.P, NP).set(flatten(fx.init_params));
    h.u8(s.images, 80 * 3072).set(fx.training.images_u8);
    h.u8(s.labels, 80).set(fx.training.labels);
    const idx = [5, 17, 0, 79, 33, 34, 35, 2, 60, 61, 11];
    h.i32(s.indices, n).set(idx);
    const out = h.alloc(n * 40), pred = h.alloc(n * 4);
    k.logitsShard(s.P, s.images, s.indices, n, s.scratch[0], out);
    const logits = Array.from(h.f32(out, n * 10));
    const loss = k.evalShard(s.P, s.images, s.labels, s.indices, n, s.scratch[0], pred);
    const preds = Array.from(h.i32(pred, n));
    let refLoss = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(preds[i], argmax(logits, i * 10, 10), `prediction ${i}`);
      if (preds[i] === fx.training.labels[idx[i]]) correct++;
      const row = logits.slice(i * 10, i * 10 + 10);
      const mx = Math.max(...row);
      refLoss += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[fx.training.labels[idx[i]]];
    }
    expectClose('eval loss', [loss], [refLoss], 1e-6, 1e-5);
    const tl = k.trainShard(s.P, s.G[0], s.images, s.labels, s.indices, n, 1 / n, s.scratch[0], s.stats);
    expectClose('train loss', [tl], [refLoss], 1e-6, 1e-5);
    assert.equal(h.i32(s.stats, 1)[0], correct);
    // single images through logitsShard give the same logits
    for (let i = 0; i < n; i++) {
      k.logitsShard(s.P, s.images, s.indices + 4 * i, 1, s.scratch[0], out);
      expectClose(`logits of image ${i} alone`, h.f32(out, 10), logits.slice(i * 10, i * 10 + 10), 1e-7, 1e-6);
    }
    assert.equal(k.evalShard(s.P, s.images, s.labels, s.indices, 0, s.scratch[0], pred), 0);
  });

  test(`${build.name}: a shard of 16 equals four shards of 4 (scratch only 16-byte aligned)`, () => {
    const fx = loadFixture();
    const s = setup(build.relaxed, 1, 80, 16);
    const { h } = s;
    const k = h.k[0];
    h.f32(s.P, NP).set(flatten(fx.init_params));
    h.u8(s.images, 80 * 3072).set(fx.training.images_u8);
    h.u8(s.labels, 80).set(fx.training.labels);
    const idx = [3, 77, 12, 40, 41, 9, 66, 5, 21, 22, 23, 58, 70, 1, 30, 49];
    h.i32(s.indices, 16).set(idx);
    const scratch = h.alloc(k.scratchBytes(16) + 16, 64) + 16; // 16-byte but not 64-byte aligned
    const G2 = h.alloc(NP * 4);
    const loss16 = k.trainShard(s.P, G2, s.images, s.labels, s.indices, 16, 1 / 16, scratch, s.stats);
    const correct16 = h.i32(s.stats, 1)[0];
    const big = Float64Array.from(h.f32(G2, NP));
    const sum = new Float64Array(NP);
    let loss4 = 0;
    let correct4 = 0;
    for (let q = 0; q < 4; q++) {
      loss4 += k.trainShard(s.P, s.G[0], s.images, s.labels, s.indices + 16 * q, 4, 1 / 16, s.scratch[0], s.stats);
      correct4 += h.i32(s.stats, 1)[0];
      const g = h.f32(s.G[0], NP);
      for (let i = 0; i < NP; i++) sum[i] += g[i];
    }
    expectClose('loss', [loss16], [loss4], 1e-6, 1e-6);
    assert.equal(correct16, correct4);
    expectClose('gradients', big, sum, 1e-7, 1e-4);
  });

  test(`${build.name}: adamStep matches a float64 Adam (weight decay, AdamW, AMSGrad, several gradient buffers)`, () => {
    const h = new Harness(build.relaxed, 1);
    const k = h.k[0];
    const K = 3;
    const stride = NP * 4 + 48;
    const P = h.alloc(NP * 4), G = h.alloc(K * stride), M = h.alloc(NP * 4), V = h.alloc(NP * 4), VM = h.alloc(NP * 4);
    const T = gradTable(h, G, stride, K);
    const cases = [
      { flags: 0, wd: 0, start: 0, end: NP },
      { flags: 0, wd: 0.01, start: 8, end: NP },
      { flags: ADAM_FLAG_ADAMW, wd: 0.05, start: 0, end: NP },
      { flags: ADAM_FLAG_AMSGRAD, wd: 0, start: 100, end: 2004 },
      { flags: ADAM_FLAG_AMSGRAD | ADAM_FLAG_ADAMW, wd: 0.01, start: 61000, end: NP },
      { flags: ADAM_FLAG_AMSGRAD, wd: 0.001, start: 4, end: NP },
    ];
    const r = rng(42);
    for (const c of cases) {
      const p = h.f32(P, NP), m = h.f32(M, NP), v = h.f32(V, NP), vm = h.f32(VM, NP);
      for (let i = 0; i < NP; i++) {
        p[i] = r() * 2 - 1;
        m[i] = i % 97 === 0 ? 1e-36 : 0;
        v[i] = 0;
        vm[i] = 0;
      }
      const lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
      for (let step = 1; step <= 4; step++) {
        // Odd steps find the buffers by their stride, even steps through the table (listing them in another order).
        const viaTable = step % 2 === 0;
        const gs = [...Array(K)].map((_, q) => h.f32(viaTable ? h.i32(T, K)[q] : G + q * stride, NP));
        for (const g of gs) for (let i = 0; i < NP; i++) g[i] = (r() - 0.5) * (i % 5 === 0 ? 1e-3 : 1) * (i % 389 === 0 ? 0 : 1);
        const before = { p: Float64Array.from(p), m: Float64Array.from(m), v: Float64Array.from(v), vm: Float64Array.from(vm) };
        const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
        k.adamStep(P, viaTable ? T : G, viaTable ? 0 : stride, K, M, V, VM, c.start, c.end, lr, b1, b2, eps, c.wd, bc1, bc2, c.flags);
        // float64 reference; float32 rounding is judged against the size of the terms that were added
        // (m = b1*m + (1-b1)*g can cancel), hence a per-element scale
        const exp = { p: Float64Array.from(before.p), m: Float64Array.from(before.m), v: Float64Array.from(before.v), vm: Float64Array.from(before.vm) };
        const scale = { p: new Float64Array(NP), m: new Float64Array(NP), v: new Float64Array(NP) };
        for (let i = 0; i < NP; i++) {
          scale.p[i] = Math.abs(before.p[i]);
          scale.m[i] = Math.abs(before.m[i]);
          scale.v[i] = Math.abs(before.v[i]);
        }
        for (let i = c.start; i < c.end; i++) {
          let g = 0;
          for (const gg of gs) g += gg[i];
          let gScale = 0;
          for (const gg of gs) gScale += Math.abs(gg[i]);
          let pi = before.p[i];
          if (c.flags & ADAM_FLAG_ADAMW) pi *= 1 - lr * c.wd;
          else if (c.wd !== 0) {
            g += c.wd * pi;
            gScale += Math.abs(c.wd * pi);
          }
          let mi = b1 * before.m[i] + (1 - b1) * g;
          let vi = b2 * before.v[i] + (1 - b2) * g * g;
          scale.m[i] = Math.abs(b1 * before.m[i]) + (1 - b1) * gScale;
          scale.v[i] = b2 * before.v[i] + (1 - b2) * gScale * gScale;
          if (Math.abs(mi) < 1e-30) mi = 0;
          if (Math.abs(vi) < 1e-30) vi = 0;
          exp.m[i] = mi;
          exp.v[i] = vi;
          if (c.flags & ADAM_FLAG_AMSGRAD) vi = exp.vm[i] = Math.max(before.vm[i], vi);
          const denom = Math.sqrt(vi) / Math.sqrt(bc2) + eps;
          exp.p[i] = pi - (lr / bc1) * (mi / denom);
          scale.p[i] = Math.abs(pi) + (lr / bc1) * (scale.m[i] + Math.abs(mi)) / denom;
        }
        const tag = `flags ${c.flags} wd ${c.wd} [${c.start},${c.end}) step ${step}`;
        const check = (name: string, got: Float32Array, want: Float64Array, sc: Float64Array) => {
          for (let i = 0; i < NP; i++) {
            if (!(Math.abs(got[i] - want[i]) <= 2e-6 * sc[i] + 1e-30)) {
              assert.fail(`${name} ${tag} [${i}]: got ${got[i]}, expected ${want[i]} (scale ${sc[i]})`);
            }
          }
        };
        check('m', m, exp.m, scale.m);
        check('v', v, exp.v, scale.v);
        check('vmax', vm, exp.vm, scale.v);
        check('params', p, exp.p, scale.p);
        for (let i = 0; i < NP; i++) {
          if ((i < c.start || i >= c.end) && !(p[i] === before.p[i] && m[i] === before.m[i] && v[i] === before.v[i])) assert.fail(`index ${i} outside the range changed`);
        }
        for (let i = c.start; i < c.end; i++) if (!(m[i] === 0 || Math.abs(m[i]) >= 1e-30)) assert.fail(`m[${i}] = ${m[i]} not flushed`);
      }
    }
  });

  test(`${build.name}: adamStep through the table adds the buffers as by their stride, bit for bit (random buffer counts, orders, ranges and flags)`, () => {
    // A rescue leaves the gradient buffers out of order (engine.ts), and the optimizer then finds them through the table:
    // its numbers must be those of the same buffers found by their stride, in the table's order.
    const h = new Harness(build.relaxed, 1);
    const k = h.k[0];
    const maxK = 12;
    const stride = NP * 4 + 16;
    const G = h.alloc(maxK * stride), inOrder = h.alloc(maxK * stride), T = h.alloc(maxK * 4);
    const state = () => ({ p: h.alloc(NP * 4), m: h.alloc(NP * 4), v: h.alloc(NP * 4), vm: h.alloc(NP * 4) });
    const viaTable = state(), viaStride = state();
    const flagSets = [0, ADAM_FLAG_ADAMW, ADAM_FLAG_AMSGRAD, ADAM_FLAG_ADAMW | ADAM_FLAG_AMSGRAD];
    let blocked = 0;
    for (let trial = 0; trial < 24; trial++) {
      const r = rng(1000 + trial);
      const K = 1 + Math.floor(r() * maxK);
      const a = Math.floor(r() * (NP + 1)), b = Math.floor(r() * (NP + 1));
      const start = trial % 3 === 0 ? 0 : Math.min(a, b), end = trial % 3 === 0 ? NP : Math.max(a, b);
      const flags = flagSets[trial % 4];
      const wd = trial % 2 ? 0.01 : 0;
      // The table lists the K buffers in a random order; the same data, in that order, sits at inOrder + q * stride.
      const order = [...Array(maxK).keys()];
      for (let q = maxK - 1; q > 0; q--) {
        const j = Math.floor(r() * (q + 1));
        [order[q], order[j]] = [order[j], order[q]];
      }
      h.i32(T, K).set(order.slice(0, K).map((slot) => G + slot * stride));
      for (let q = 0; q < K; q++) {
        const g = h.f32(G + order[q] * stride, NP);
        for (let i = 0; i < NP; i++) g[i] = (r() - 0.5) * (i % 7 === 0 ? 1e-4 : 1);
        h.f32(inOrder + q * stride, NP).set(g);
      }
      for (const key of ['p', 'm', 'v', 'vm'] as const) {
        const x = h.f32(viaTable[key], NP);
        for (let i = 0; i < NP; i++) x[i] = key === 'p' ? r() * 2 - 1 : key === 'm' ? (r() - 0.5) * 1e-2 : r() * 1e-4;
        h.f32(viaStride[key], NP).set(x);
      }
      const step = 1 + (trial % 5);
      const bc1 = 1 - 0.9 ** step, bc2 = 1 - 0.999 ** step;
      k.adamStep(viaTable.p, T, 0, K, viaTable.m, viaTable.v, viaTable.vm, start, end, 1e-3, 0.9, 0.999, 1e-8, wd, bc1, bc2, flags);
      k.adamStep(viaStride.p, inOrder, stride, K, viaStride.m, viaStride.v, viaStride.vm, start, end, 1e-3, 0.9, 0.999, 1e-8, wd, bc1, bc2, flags);
      for (const key of ['p', 'm', 'v', 'vm'] as const) {
        const x = new Uint32Array(h.f32(viaTable[key], NP).slice().buffer), y = new Uint32Array(h.f32(viaStride[key], NP).slice().buffer);
        const i = x.findIndex((bits, j) => bits !== y[j]);
        assert.equal(i, -1, `${key}[${i}] differs: ${K} buffers, [${start}, ${end}), flags ${flags}, weight decay ${wd}`);
      }
      // The ranges cover the blocked loop (eight vectors at a time), the vectors after it and the scalar tail.
      if (end - start >= 64) blocked++;
    }
    assert.ok(blocked >= 10, `${blocked} ranges long enough for the blocked loop`);
  });

  test(`${build.name}: sgdStep matches a float64 SGD (momentum, weight decay, Nesterov)`, () => {
    const h = new Harness(build.relaxed, 1);
    const k = h.k[0];
    const K = 2;
    const stride = NP * 4 + 16;
    const P = h.alloc(NP * 4), G = h.alloc(K * stride), B = h.alloc(NP * 4);
    const T = gradTable(h, G, stride, K);
    const r = rng(7);
    const cases = [
      { momentum: 0.9, wd: 0, start: 0, end: NP, nesterov: false },
      { momentum: 0.9, wd: 5e-4, start: 12, end: 30002 + 2, nesterov: false },
      { momentum: 0, wd: 0.01, start: 0, end: NP, nesterov: false },
      { momentum: 0, wd: 0, start: 61992, end: NP, nesterov: false },
      { momentum: 0.9, wd: 0, start: 0, end: NP, nesterov: true },
      { momentum: 0.5, wd: 5e-4, start: 12, end: 30002 + 2, nesterov: true },
    ];
    for (const c of cases) {
      const p = h.f32(P, NP), buf = h.f32(B, NP);
      for (let i = 0; i < NP; i++) {
        p[i] = r() * 2 - 1;
        buf[i] = 0.5;
      }
      const lr = 0.01;
      for (let step = 1; step <= 3; step++) {
        // Odd steps find the buffers by their stride, even steps through the table (listing them in another order).
        const viaTable = step % 2 === 0;
        const gs = [...Array(K)].map((_, q) => h.f32(viaTable ? h.i32(T, K)[q] : G + q * stride, NP));
        for (const g of gs) for (let i = 0; i < NP; i++) g[i] = r() - 0.5;
        const bp = Float64Array.from(p), bb = Float64Array.from(buf);
        k.sgdStep(P, viaTable ? T : G, viaTable ? 0 : stride, K, B, c.start, c.end, lr, c.momentum, c.wd, step === 1 ? 1 : 0, c.nesterov ? 1 : 0);
        const ep = Float64Array.from(bp), eb = Float64Array.from(bb);
        for (let i = c.start; i < c.end; i++) {
          let d = Math.fround(gs[0][i] + gs[1][i]);
          if (c.wd !== 0) d += c.wd * bp[i];
          if (c.momentum !== 0) {
            const g = d;
            d = step === 1 ? d : c.momentum * bb[i] + d;
            eb[i] = d;
            if (c.nesterov) d = g + c.momentum * d; // torch: d_p.add(buf, alpha=momentum)
          }
          ep[i] = bp[i] - lr * d;
        }
        const tag = `momentum ${c.momentum} wd ${c.wd} nesterov ${c.nesterov} [${c.start},${c.end}) step ${step}`;
        expectClose(`params ${tag}`, p, ep, 1e-7, 1e-6);
        expectClose(`buffer ${tag}`, buf, eb, 1e-7, 1e-5);
      }
    }
  });

  test(`${build.name}: rmspropStep matches a float64 RMSprop (alpha, momentum, weight decay)`, () => {
    const h = new Harness(build.relaxed, 1);
    const k = h.k[0];
    const K = 2;
    const stride = NP * 4 + 16;
    const P = h.alloc(NP * 4), G = h.alloc(K * stride), B = h.alloc(NP * 4), S = h.alloc(NP * 4);
    const T = gradTable(h, G, stride, K);
    const r = rng(11);
    const cases = [
      { alpha: 0.99, momentum: 0, wd: 0, eps: 1e-8, start: 0, end: NP },
      { alpha: 0.9, momentum: 0.9, wd: 5e-4, eps: 1e-6, start: 12, end: 30002 + 2 },
      { alpha: 0.5, momentum: 0.3, wd: 0, eps: 1e-3, start: 61992, end: NP },
    ];
    for (const c of cases) {
      const p = h.f32(P, NP), buf = h.f32(B, NP), sq = h.f32(S, NP);
      for (let i = 0; i < NP; i++) {
        p[i] = r() * 2 - 1;
        buf[i] = 0;
        sq[i] = 0;
      }
      const lr = 0.01;
      for (let step = 1; step <= 3; step++) {
        // Odd steps find the buffers by their stride, even steps through the table (listing them in another order).
        const viaTable = step % 2 === 0;
        const gs = [...Array(K)].map((_, q) => h.f32(viaTable ? h.i32(T, K)[q] : G + q * stride, NP));
        for (const g of gs) for (let i = 0; i < NP; i++) g[i] = r() - 0.5;
        const bp = Float64Array.from(p), bb = Float64Array.from(buf), bs = Float64Array.from(sq);
        k.rmspropStep(P, viaTable ? T : G, viaTable ? 0 : stride, K, B, S, c.start, c.end, lr, c.alpha, c.eps, c.momentum, c.wd);
        const ep = Float64Array.from(bp), eb = Float64Array.from(bb), es = Float64Array.from(bs);
        for (let i = c.start; i < c.end; i++) {
          let g = Math.fround(gs[0][i] + gs[1][i]);
          if (c.wd !== 0) g += c.wd * bp[i];
          es[i] = c.alpha * bs[i] + (1 - c.alpha) * g * g;
          const direction = g / (Math.sqrt(es[i]) + c.eps);
          if (c.momentum !== 0) {
            eb[i] = c.momentum * bb[i] + direction;
            ep[i] = bp[i] - lr * eb[i];
          } else ep[i] = bp[i] - lr * direction;
        }
        const tag = `alpha ${c.alpha} momentum ${c.momentum} wd ${c.wd} [${c.start},${c.end}) step ${step}`;
        // g / (sqrt(v) + eps) is up to 1 / sqrt(1 - alpha) (3.2 at alpha 0.9) in size, and the buffer sums such terms
        // of both signs: float32 rounds each by up to 2e-7 of that size, which is the absolute bound on the buffer.
        const termUlps = 4 * 6e-8 / Math.sqrt(1 - c.alpha);
        expectClose(`params ${tag}`, p, ep, 1e-7, 1e-5);
        expectClose(`square average ${tag}`, sq, es, 1e-9, 1e-5);
        expectClose(`buffer ${tag}`, buf, eb, termUlps, 1e-5);
      }
    }
  });

  test(`${build.name}: two worker threads train concurrently on one memory with no shared state`, async () => {
    const fx = loadFixture();
    const n = 8;
    const s = setup(build.relaxed, 1, 80, n);
    const { h } = s;
    const k = h.k[0];
    h.f32(s.P, NP).set(flatten(fx.init_params));
    h.u8(s.images, 80 * 3072).set(fx.training.images_u8);
    h.u8(s.labels, 80).set(fx.training.labels);
    // expected gradients for two different shards, computed here first
    const shards = [[0, 1, 2, 3, 4, 5, 6, 7], [40, 41, 42, 43, 44, 45, 46, 47]];
    const idx = shards.map((sh) => {
      const p = h.alloc(4 * n);
      h.i32(p, n).set(sh);
      return p;
    });
    const expected = shards.map((_, w) => {
      const loss = k.trainShard(s.P, s.G[0], s.images, s.labels, idx[w], n, 1 / 16, s.scratch[0], s.stats);
      return { loss, grads: Float32Array.from(h.f32(s.G[0], NP)) };
    });
    const grads = [h.alloc(NP * 4), h.alloc(NP * 4)];
    const scratch = [h.alloc(k.scratchBytes(n)), h.alloc(k.scratchBytes(n))];
    const stats = h.alloc(64);
    const module = compileKernels(build.relaxed);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { module, memory, P, G, images, labels, indices, n, scratch, stats, reps, NP } = workerData;
      const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
      const first = new Float32Array(NP);
      let mismatches = 0, loss0 = 0;
      for (let r = 0; r < reps; r++) {
        const loss = k.trainShard(P, G, images, labels, indices, n, 1 / 16, scratch, stats);
        const g = new Float32Array(memory.buffer, G, NP);
        if (r === 0) { first.set(g); loss0 = loss; }
        else { if (loss !== loss0) mismatches++; for (let i = 0; i < NP; i++) if (g[i] !== first[i]) { mismatches++; break; } }
      }
      parentPort.postMessage({ mismatches, loss: loss0, grads: first });
    `;
    const results = await Promise.all([0, 1].map((w) => new Promise<{ mismatches: number; loss: number; grads: Float32Array }>((resolve, reject) => {
      const worker = new Worker(code, {
        eval: true,
        workerData: { module, memory: h.memory, P: s.P, G: grads[w], images: s.images, labels: s.labels, indices: idx[w], n, scratch: scratch[w], stats: stats + 4 * w, reps: 60, NP },
      });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    for (let w = 0; w < 2; w++) {
      assert.equal(results[w].mismatches, 0, `worker ${w} gave varying results`);
      assert.equal(results[w].loss, expected[w].loss, `worker ${w} loss`);
      assert.deepEqual(results[w].grads, expected[w].grads, `worker ${w} gradients`);
    }
  });
}
