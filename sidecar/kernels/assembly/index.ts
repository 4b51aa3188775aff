// WebAssembly SIMD kernels for one training step of the PyTorch tutorial CNN (AssemblyScript): the module's
// exports. The layer kernels are in kernels.ts.
//
// Built twice by scripts/build.mjs: with `--use RELAXED=1 --enable relaxed-simd` (fused multiply-add through
// f32x4.relaxed_madd) into dist/kernels-relaxed.wasm and with `--use RELAXED=0` into dist/kernels-simd.wasm.
//
// The module imports ONE shared memory; several worker threads instantiate it on the same memory at once.
// Therefore: no mutable globals, no allocation. Every buffer is passed as a byte offset (pointer); each
// worker passes its own scratch area (16-byte aligned, scratchBytes(maxCount) bytes) and its own gradient
// buffer. The only static data (read-only tables of Math.exp/log) lies below heapBase(); the caller places
// its own buffers at or above heapBase().
//
// Network: conv1 3->6 k5 (28x28), ReLU, maxpool 2 (14x14), conv2 6->16 k5 (10x10), ReLU, maxpool 2 (5x5),
// flatten (C,H,W) 400, fc1 400->120, ReLU, fc2 120->84, ReLU, fc3 84->10, softmax cross-entropy.
import {
  F1B, F1W, F2B, F2W, F3B, F3W, FIXED, PER_SAMPLE, EVAL_CHUNK, PARAM_COUNT,
  LG_CUM, LG_SIZE, DL_CUM, DL_SIZE, A1_CUM, H1_CUM, H2_CUM, DH2_CUM, DH2_SIZE, DH1_CUM, DH1_SIZE, DA1_CUM,
  forwardSamples, crossEntropy, argmax10, linearBackwardW, linearBackwardX,
  convBackwardEntries, conv2WeightGrad, conv1WeightGrad,
} from './kernels';

/** Bytes below which the module's static data lives; put caller buffers at or above this (64-aligned). */
export function heapBase(): usize {
  return (__heap_base + 63) & ~<usize>63;
}

/** Scratch bytes one worker needs for shards of up to maxCount images (any count for eval/logits). */
export function scratchBytes(maxCount: i32): i32 {
  const n = max(maxCount, EVAL_CHUNK);
  return <i32>(FIXED + <usize>n * PER_SAMPLE);
}

/** Forward + backward over a shard; grads (62,006 f32) are OVERWRITTEN with sum(per-sample grad) * invBatch.
 *  Returns the sum of per-sample losses; writes the number of correct predictions (i32) at stats. */
export function trainShard(params: usize, grads: usize, images: usize, labels: usize, indices: usize, count: i32,
  invBatch: f32, scratch: usize, stats: usize): f32 {
  const n = max(count, 0);
  const N = <usize>n;
  const base = scratch + FIXED;
  forwardSamples(params, images, indices, n, N, scratch, true);

  // loss and d loss / d logits
  const lg = base + N * LG_CUM;
  const dl = base + N * DL_CUM;
  let loss: f64 = 0;
  let correct = 0;
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const y = <i32>load<u8>(labels + <usize>load<i32>(indices + su * 4));
    const l = lg + su * LG_SIZE;
    loss += crossEntropy(l, y, dl + su * DL_SIZE, <f64>invBatch);
    if (argmax10(l) == y) correct++;
  }
  store<i32>(stats, correct);

  // fully connected backward
  const a1 = base + N * A1_CUM;
  const h1 = base + N * H1_CUM;
  const h2 = base + N * H2_CUM;
  const dh2 = base + N * DH2_CUM;
  const dh1 = base + N * DH1_CUM;
  const da1 = base + N * DA1_CUM;
  linearBackwardW(dl, DL_SIZE, h2, n, 84, 10, grads + F3W, grads + F3B);
  linearBackwardX(dl, DL_SIZE, params + F3W, n, 84, 10, dh2, h2);
  linearBackwardW(dh2, DH2_SIZE, h1, n, 120, 84, grads + F2W, grads + F2B);
  linearBackwardX(dh2, DH2_SIZE, params + F2W, n, 120, 84, dh1, h1);
  linearBackwardW(dh1, DH1_SIZE, a1, n, 400, 120, grads + F1W, grads + F1B);
  linearBackwardX(dh1, DH1_SIZE, params + F1W, n, 400, 120, da1, 0);

  convBackwardEntries(params, n, N, scratch);
  conv2WeightGrad(grads, N, scratch);
  conv1WeightGrad(grads, n, N, scratch);
  return <f32>loss;
}

/** Forward only; returns the sum of losses and writes each image's argmax class (i32) to predictions. */
export function evalShard(params: usize, images: usize, labels: usize, indices: usize, count: i32, scratch: usize,
  predictions: usize): f32 {
  const N = <usize>EVAL_CHUNK;
  const lg = scratch + FIXED + N * LG_CUM;
  let loss: f64 = 0;
  for (let s0 = 0; s0 < count; s0 += EVAL_CHUNK) {
    const n = min(EVAL_CHUNK, count - s0);
    forwardSamples(params, images, indices + <usize>s0 * 4, n, N, scratch, false);
    for (let s = 0; s < n; s++) {
      const su = <usize>s;
      const y = <i32>load<u8>(labels + <usize>load<i32>(indices + <usize>(s0 + s) * 4));
      const l = lg + su * LG_SIZE;
      loss += crossEntropy(l, y, 0, 0);
      store<i32>(predictions + <usize>(s0 + s) * 4, argmax10(l));
    }
  }
  return <f32>loss;
}

/** Forward only; writes count*10 logits (f32) to out. */
export function logitsShard(params: usize, images: usize, indices: usize, count: i32, scratch: usize, out: usize): void {
  const N = <usize>EVAL_CHUNK;
  const lg = scratch + FIXED + N * LG_CUM;
  for (let s0 = 0; s0 < count; s0 += EVAL_CHUNK) {
    const n = min(EVAL_CHUNK, count - s0);
    forwardSamples(params, images, indices + <usize>s0 * 4, n, N, scratch, false);
    for (let s = 0; s < n; s++) {
      const l = lg + <usize>s * LG_SIZE;
      const o = out + <usize>(s0 + s) * 40;
      for (let j: usize = 0; j < 10; j++) store<f32>(o + j * 4, load<f32>(l + j * 4));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Optimizers over parameter indices [start, end); start multiple of 4; end multiple of 4 or the last index.

// @ts-ignore: decorator
@inline function sumGrads(gradsBase: usize, stride: usize, numGrad: i32, off: usize): v128 {
  let p = gradsBase + off;
  let g = v128.load(p);
  if (numGrad > 1) {
    p += stride;
    g = f32x4.add(g, v128.load(p));
    for (let k = 2; k < numGrad; k++) {
      p += stride;
      g = f32x4.add(g, v128.load(p));
    }
  }
  return g;
}

// @ts-ignore: decorator
@inline function sumGrad1(gradsBase: usize, stride: usize, numGrad: i32, off: usize): f32 {
  let g = load<f32>(gradsBase + off);
  let p = gradsBase + off;
  for (let k = 1; k < numGrad; k++) {
    p += stride;
    g += load<f32>(p);
  }
  return g;
}

// flush |x| < 1e-30 to zero (keeps NaN)
// @ts-ignore: decorator
@inline function flush(x: v128, tiny: v128, absMask: v128): v128 {
  return v128.andnot(x, f32x4.lt(v128.and(x, absMask), tiny));
}

// @ts-ignore: decorator
@inline function flush1(x: f32): f32 {
  return abs(x) < <f32>1e-30 ? <f32>0 : x;
}

// One vector of Adam at byte offset i (flags as compile-time constants after inlining).
// @ts-ignore: decorator
@inline function adamVec(i: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, m: usize, v: usize,
  vmax: usize, adamw: bool, useWd: bool, ams: bool, vwd: v128, vdecay: v128, vb1: v128, vob1: v128, vb2: v128,
  vob2: v128, vbc2s: v128, veps: v128, vnstep: v128, tiny: v128, absMask: v128): void {
  let g = sumGrads(gradsBase, stride, numGrad, i);
  let p = v128.load(params + i);
  if (adamw) p = f32x4.mul(p, vdecay);
  else if (useWd) g = f32x4.add(g, f32x4.mul(vwd, p));
  const mm = flush(f32x4.add(f32x4.mul(v128.load(m + i), vb1), f32x4.mul(vob1, g)), tiny, absMask);
  // v >= 0 (or NaN): no abs needed
  let vv = f32x4.add(f32x4.mul(v128.load(v + i), vb2), f32x4.mul(f32x4.mul(vob2, g), g));
  vv = v128.andnot(vv, f32x4.lt(vv, tiny));
  v128.store(m + i, mm);
  v128.store(v + i, vv);
  if (ams) {
    vv = f32x4.pmax(vv, v128.load(vmax + i)); // max; a NaN in v stays NaN
    v128.store(vmax + i, vv);
  }
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), vbc2s), veps);
  p = f32x4.add(p, f32x4.mul(vnstep, f32x4.div(mm, denom)));
  v128.store(params + i, p);
}

// The vector part of Adam over byte offsets [from, to), two vectors per iteration.
// @ts-ignore: decorator
@inline function adamLoop(from: usize, to: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, m: usize,
  v: usize, vmax: usize, adamw: bool, useWd: bool, ams: bool, wd: f32, decay: f32, b1: f32, ob1: f32, b2: f32, ob2: f32,
  bc2s: f32, ep: f32, nstep: f32): void {
  const tiny = f32x4.splat(1e-30);
  // |x| mask built from a run-time value so that V8 keeps it in a register instead of rematerialising it
  const absMask = i32x4.splat(0x7fffffff & ~(numGrad >> 31));
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vob1 = f32x4.splat(ob1), vob2 = f32x4.splat(ob2);
  const vbc2s = f32x4.splat(bc2s), veps = f32x4.splat(ep), vnstep = f32x4.splat(nstep);
  const vwd = f32x4.splat(wd), vdecay = f32x4.splat(decay);
  let i = from;
  for (; i + 32 <= to; i += 32) {
    adamVec(i, params, gradsBase, stride, numGrad, m, v, vmax, adamw, useWd, ams, vwd, vdecay, vb1, vob1, vb2, vob2, vbc2s, veps, vnstep, tiny, absMask);
    adamVec(i + 16, params, gradsBase, stride, numGrad, m, v, vmax, adamw, useWd, ams, vwd, vdecay, vb1, vob1, vb2, vob2, vbc2s, veps, vnstep, tiny, absMask);
  }
  if (i < to) {
    adamVec(i, params, gradsBase, stride, numGrad, m, v, vmax, adamw, useWd, ams, vwd, vdecay, vb1, vob1, vb2, vob2, vbc2s, veps, vnstep, tiny, absMask);
  }
}

/** PyTorch 1.13 Adam / AdamW (flags&1) / AMSGrad (flags&2) over [start, end); g = sum of numGradBuffers buffers. */
export function adamStep(params: usize, gradsBase: usize, gradStrideBytes: usize, numGradBuffers: i32, m: usize, v: usize,
  vmax: usize, start: i32, end: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64,
  biasCorrection1: f64, biasCorrection2: f64, flags: i32): void {
  const adamw = (flags & 1) != 0;
  const ams = (flags & 2) != 0;
  const wd = <f32>weightDecay;
  const useWd = !adamw && weightDecay != 0;
  const decay = <f32>(1.0 - lr * weightDecay);
  const b1 = <f32>beta1, b2 = <f32>beta2;
  const ob1 = <f32>(1.0 - beta1), ob2 = <f32>(1.0 - beta2);
  const bc2s = <f32>Math.sqrt(biasCorrection2);
  const ep = <f32>eps;
  const nstep = <f32>(-(lr / biasCorrection1));
  const s = max(start, 0);
  const e = min(end, PARAM_COUNT);
  if (e <= s) return;
  const e4 = s + ((e - s) & ~3);
  const from = <usize>s * 4, to = <usize>e4 * 4;
  // one specialised loop per flag combination (no branches inside)
  if (ams) {
    if (adamw) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, true, false, true, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
    else if (useWd) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, true, true, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
    else adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, false, true, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
  } else {
    if (adamw) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, true, false, false, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
    else if (useWd) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, true, false, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
    else adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, false, false, wd, decay, b1, ob1, b2, ob2, bc2s, ep, nstep);
  }
  // scalar tail (end not a multiple of 4)
  for (let i = <usize>e4 * 4; i < <usize>e * 4; i += 4) {
    let g = sumGrad1(gradsBase, gradStrideBytes, numGradBuffers, i);
    let p = load<f32>(params + i);
    if (adamw) p = p * decay;
    else if (useWd) g = g + wd * p;
    const mm = flush1(load<f32>(m + i) * b1 + ob1 * g);
    let vv = flush1(load<f32>(v + i) * b2 + (ob2 * g) * g);
    store<f32>(m + i, mm);
    store<f32>(v + i, vv);
    if (ams) {
      const old = load<f32>(vmax + i);
      vv = vv < old ? old : vv;
      store<f32>(vmax + i, vv);
    }
    const denom = Mathf.sqrt(vv) / bc2s + ep;
    p = p + nstep * (mm / denom);
    store<f32>(params + i, p);
  }
}

/** PyTorch 1.13 SGD (dampening 0, no Nesterov) over [start, end); firstStep != 0 initialises the momentum buffer. */
export function sgdStep(params: usize, gradsBase: usize, gradStrideBytes: usize, numGradBuffers: i32, momentumBuf: usize,
  start: i32, end: i32, lr: f64, momentum: f64, weightDecay: f64, firstStep: i32): void {
  const useWd = weightDecay != 0;
  const useMom = momentum != 0;
  const first = firstStep != 0;
  const wd = <f32>weightDecay, mo = <f32>momentum, nlr = <f32>(-lr);
  const vwd = f32x4.splat(wd), vmo = f32x4.splat(mo), vnlr = f32x4.splat(nlr);
  const tiny = f32x4.splat(1e-30);
  const absMask = i32x4.splat(0x7fffffff & ~(numGradBuffers >> 31));
  const s = max(start, 0);
  const e = min(end, PARAM_COUNT);
  if (e <= s) return;
  const e4 = s + ((e - s) & ~3);
  for (let i = <usize>s * 4; i < <usize>e4 * 4; i += 16) {
    let d = sumGrads(gradsBase, gradStrideBytes, numGradBuffers, i);
    let p = v128.load(params + i);
    if (useWd) d = f32x4.add(d, f32x4.mul(vwd, p));
    if (useMom) {
      if (!first) d = f32x4.add(f32x4.mul(v128.load(momentumBuf + i), vmo), d);
      d = flush(d, tiny, absMask);
      v128.store(momentumBuf + i, d);
    }
    v128.store(params + i, f32x4.add(p, f32x4.mul(vnlr, d)));
  }
  for (let i = <usize>e4 * 4; i < <usize>e * 4; i += 4) {
    let d = sumGrad1(gradsBase, gradStrideBytes, numGradBuffers, i);
    const p = load<f32>(params + i);
    if (useWd) d = d + wd * p;
    if (useMom) {
      if (!first) d = load<f32>(momentumBuf + i) * mo + d;
      d = flush1(d);
      store<f32>(momentumBuf + i, d);
    }
    store<f32>(params + i, p + nlr * d);
  }
}
