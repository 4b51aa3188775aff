// The optimizers over a slice of the parameters, summing every shard's gradient buffer first. They mirror
// sidecar/optim/adam.ts `adamStep` and sidecar/optim/sgd.ts `sgdStep`, the one statement of each rule: read
// those for the formulas; these are the same arithmetic in float32 SIMD, with m and v flushed to zero below
// FLUSH_BELOW (1e-30, as there) because subnormal floats are very slow and WebAssembly cannot flush them.
// Parameter indices [start, end): start a multiple of 4; end a multiple of 4 or the last index.
import { PARAMETER_COUNT } from './parameters';
// The gradient buffers: numGrad buffers at gradsBase + k * stride, or, with stride 0, at the byte offsets that the i32
// table at gradsBase lists (the engine's, when a shard's gradient is not in its own buffer: sidecar/parallel/worker.ts).
// Either way they are summed in order k.
// @ts-ignore: decorator
@inline export function sumGrads(gradsBase: usize, stride: usize, numGrad: i32, off: usize): v128 {
  if (stride == 0) {
    let t = gradsBase;
    let g = v128.load(<usize>load<i32>(t) + off);
    for (let k = 1; k < numGrad; k++) {
      t += 4;
      g = f32x4.add(g, v128.load(<usize>load<i32>(t) + off));
    }
    return g;
  }
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
@inline export function sumGrad1(gradsBase: usize, stride: usize, numGrad: i32, off: usize): f32 {
  if (stride == 0) {
    let g = load<f32>(<usize>load<i32>(gradsBase) + off);
    for (let k = 1; k < numGrad; k++) g += load<f32>(<usize>load<i32>(gradsBase + (<usize>k << 2)) + off);
    return g;
  }
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
@inline export function flush(x: v128, tiny: v128, absMask: v128): v128 {
  return v128.andnot(x, f32x4.lt(v128.and(x, absMask), tiny));
}

// @ts-ignore: decorator
@inline export function flush1(x: f32): f32 {
  return abs(x) < <f32>1e-30 ? <f32>0 : x;
}

// One vector of Adam at byte offset i (flags as compile-time constants after inlining).
// @ts-ignore: decorator
@inline function adamVec(i: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, m: usize, v: usize,
  vmax: usize, adamw: bool, l2: bool, amsgrad: bool, vWeightDecay: v128, vDecay: v128, vBeta1: v128, vOneMinusBeta1: v128, vBeta2: v128,
  vOneMinusBeta2: v128, vSqrtBiasCorrection2: v128, vEpsilon: v128, vNegativeStepSize: v128, tiny: v128, absMask: v128): void {
  adamVecOf(sumGrads(gradsBase, stride, numGrad, i), i, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
}

// One vector of Adam at byte offset i, its gradient g already summed.
// @ts-ignore: decorator
@inline function adamVecOf(g: v128, i: usize, params: usize, m: usize, v: usize,
  vmax: usize, adamw: bool, l2: bool, amsgrad: bool, vWeightDecay: v128, vDecay: v128, vBeta1: v128, vOneMinusBeta1: v128, vBeta2: v128,
  vOneMinusBeta2: v128, vSqrtBiasCorrection2: v128, vEpsilon: v128, vNegativeStepSize: v128, tiny: v128, absMask: v128): void {
  let p = v128.load(params + i);
  if (adamw) p = f32x4.mul(p, vDecay);
  else if (l2) g = f32x4.add(g, f32x4.mul(vWeightDecay, p));
  const mNew = flush(f32x4.add(f32x4.mul(v128.load(m + i), vBeta1), f32x4.mul(vOneMinusBeta1, g)), tiny, absMask);
  // v >= 0 (or NaN): no abs needed
  let vNew = f32x4.add(f32x4.mul(v128.load(v + i), vBeta2), f32x4.mul(f32x4.mul(vOneMinusBeta2, g), g));
  vNew = v128.andnot(vNew, f32x4.lt(vNew, tiny));
  v128.store(m + i, mNew);
  v128.store(v + i, vNew);
  if (amsgrad) {
    vNew = f32x4.pmax(vNew, v128.load(vmax + i)); // max; a NaN in v stays NaN
    v128.store(vmax + i, vNew);
  }
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(vNew), vSqrtBiasCorrection2), vEpsilon);
  p = f32x4.add(p, f32x4.mul(vNegativeStepSize, f32x4.div(mNew, denom)));
  v128.store(params + i, p);
}

// The vector part of Adam over byte offsets [from, to), two vectors per iteration.
// @ts-ignore: decorator
@inline function adamLoop(from: usize, to: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, m: usize,
  v: usize, vmax: usize, adamw: bool, l2: bool, amsgrad: bool, weightDecayf: f32, decay: f32, beta1f: f32, oneMinusBeta1: f32, beta2f: f32, oneMinusBeta2: f32,
  sqrtBiasCorrection2: f32, epsilonf: f32, negativeStepSize: f32): void {
  const tiny = f32x4.splat(1e-30);
  // |x| mask built from a run-time value so that V8 keeps it in a register instead of rematerialising it
  const absMask = i32x4.splat(0x7fffffff & ~(numGrad >> 31));
  const vBeta1 = f32x4.splat(beta1f), vBeta2 = f32x4.splat(beta2f), vOneMinusBeta1 = f32x4.splat(oneMinusBeta1), vOneMinusBeta2 = f32x4.splat(oneMinusBeta2);
  const vSqrtBiasCorrection2 = f32x4.splat(sqrtBiasCorrection2), vEpsilon = f32x4.splat(epsilonf), vNegativeStepSize = f32x4.splat(negativeStepSize);
  const vWeightDecay = f32x4.splat(weightDecayf), vDecay = f32x4.splat(decay);
  let i = from;
  // Eight vectors at a time: each buffer's eight vectors are two whole cache lines, read in one go, and through the
  // table (stride 0: a rescue swapped a buffer, engine.ts) each buffer's offset is read once for eight vectors, not once a
  // vector. The sums add the buffers in the same order as sumGrads, so the numbers are the same.
  for (; i + 128 <= to; i += 128) {
    let t = gradsBase;
    let q = stride == 0 ? <usize>load<i32>(t) + i : gradsBase + i;
    let g0 = v128.load(q), g1 = v128.load(q, 16), g2 = v128.load(q, 32), g3 = v128.load(q, 48);
    let g4 = v128.load(q, 64), g5 = v128.load(q, 80), g6 = v128.load(q, 96), g7 = v128.load(q, 112);
    for (let k = 1; k < numGrad; k++) {
      if (stride == 0) {
        t += 4;
        q = <usize>load<i32>(t) + i;
      } else {
        q += stride;
      }
      g0 = f32x4.add(g0, v128.load(q));
      g1 = f32x4.add(g1, v128.load(q, 16));
      g2 = f32x4.add(g2, v128.load(q, 32));
      g3 = f32x4.add(g3, v128.load(q, 48));
      g4 = f32x4.add(g4, v128.load(q, 64));
      g5 = f32x4.add(g5, v128.load(q, 80));
      g6 = f32x4.add(g6, v128.load(q, 96));
      g7 = f32x4.add(g7, v128.load(q, 112));
    }
    adamVecOf(g0, i, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g1, i + 16, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g2, i + 32, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g3, i + 48, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g4, i + 64, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g5, i + 80, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g6, i + 96, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVecOf(g7, i + 112, params, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
  }
  for (; i + 32 <= to; i += 32) {
    adamVec(i, params, gradsBase, stride, numGrad, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
    adamVec(i + 16, params, gradsBase, stride, numGrad, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
  }
  if (i < to) {
    adamVec(i, params, gradsBase, stride, numGrad, m, v, vmax, adamw, l2, amsgrad, vWeightDecay, vDecay, vBeta1, vOneMinusBeta1, vBeta2, vOneMinusBeta2, vSqrtBiasCorrection2, vEpsilon, vNegativeStepSize, tiny, absMask);
  }
}

/** PyTorch 1.13 Adam / AdamW (flags&1) / AMSGrad (flags&2) over [start, end); g = sum of numGradBuffers buffers.
 *  Mirrors optim/adam.ts adamStep (negativeStepSize = -lr / biasCorrection1). */
export function adamStep(params: usize, gradsBase: usize, gradStrideBytes: usize, numGradBuffers: i32, m: usize, v: usize,
  vmax: usize, start: i32, end: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64,
  biasCorrection1: f64, biasCorrection2: f64, flags: i32): void {
  const adamw = (flags & 1) != 0;
  const amsgrad = (flags & 2) != 0;
  const weightDecayf = <f32>weightDecay;
  const l2 = !adamw && weightDecay != 0;
  const decay = <f32>(1.0 - lr * weightDecay);
  const beta1f = <f32>beta1, beta2f = <f32>beta2;
  const oneMinusBeta1 = <f32>(1.0 - beta1), oneMinusBeta2 = <f32>(1.0 - beta2);
  const sqrtBiasCorrection2 = <f32>Math.sqrt(biasCorrection2);
  const epsilonf = <f32>eps;
  const negativeStepSize = <f32>(-(lr / biasCorrection1));
  const s = max(start, 0);
  const e = min(end, PARAMETER_COUNT);
  if (e <= s) return;
  const e4 = s + ((e - s) & ~3);
  const from = <usize>s * 4, to = <usize>e4 * 4;
  // one specialised loop per flag combination (no branches inside)
  if (amsgrad) {
    if (adamw) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, true, false, true, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
    else if (l2) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, true, true, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
    else adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, false, true, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
  } else {
    if (adamw) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, true, false, false, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
    else if (l2) adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, true, false, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
    else adamLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, m, v, vmax, false, false, false, weightDecayf, decay, beta1f, oneMinusBeta1, beta2f, oneMinusBeta2, sqrtBiasCorrection2, epsilonf, negativeStepSize);
  }
  // scalar tail (end not a multiple of 4)
  for (let i = <usize>e4 * 4; i < <usize>e * 4; i += 4) {
    let g = sumGrad1(gradsBase, gradStrideBytes, numGradBuffers, i);
    let p = load<f32>(params + i);
    if (adamw) p = p * decay;
    else if (l2) g = g + weightDecayf * p;
    const mNew = flush1(load<f32>(m + i) * beta1f + oneMinusBeta1 * g);
    let vNew = flush1(load<f32>(v + i) * beta2f + (oneMinusBeta2 * g) * g);
    store<f32>(m + i, mNew);
    store<f32>(v + i, vNew);
    if (amsgrad) {
      const old = load<f32>(vmax + i);
      vNew = vNew < old ? old : vNew;
      store<f32>(vmax + i, vNew);
    }
    const denom = Mathf.sqrt(vNew) / sqrtBiasCorrection2 + epsilonf;
    p = p + negativeStepSize * (mNew / denom);
    store<f32>(params + i, p);
  }
}

/** PyTorch 1.13 SGD (dampening 0) over [start, end); firstStep != 0 initialises the momentum buffer; nesterov != 0
 *  steps along d + momentum*buf instead of buf. Mirrors optim/sgd.ts sgdStep. */
export function sgdStep(params: usize, gradsBase: usize, gradStrideBytes: usize, numGradBuffers: i32, momentumBuf: usize,
  start: i32, end: i32, lr: f64, momentum: f64, weightDecay: f64, firstStep: i32, nesterov: i32): void {
  const l2 = weightDecay != 0;
  const useMom = momentum != 0;
  const useNesterov = useMom && nesterov != 0;
  const first = firstStep != 0;
  const weightDecayf = <f32>weightDecay, momentumf = <f32>momentum, negativeLearningRate = <f32>(-lr);
  const vWeightDecay = f32x4.splat(weightDecayf), vMomentum = f32x4.splat(momentumf), vNegativeLearningRate = f32x4.splat(negativeLearningRate);
  const tiny = f32x4.splat(1e-30);
  const absMask = i32x4.splat(0x7fffffff & ~(numGradBuffers >> 31));
  const s = max(start, 0);
  const e = min(end, PARAMETER_COUNT);
  if (e <= s) return;
  const e4 = s + ((e - s) & ~3);
  for (let i = <usize>s * 4; i < <usize>e4 * 4; i += 16) {
    let d = sumGrads(gradsBase, gradStrideBytes, numGradBuffers, i);
    let p = v128.load(params + i);
    if (l2) d = f32x4.add(d, f32x4.mul(vWeightDecay, p));
    if (useMom) {
      const g = d;
      if (!first) d = f32x4.add(f32x4.mul(v128.load(momentumBuf + i), vMomentum), d);
      d = flush(d, tiny, absMask);
      v128.store(momentumBuf + i, d);
      if (useNesterov) d = f32x4.add(g, f32x4.mul(vMomentum, d));
    }
    v128.store(params + i, f32x4.add(p, f32x4.mul(vNegativeLearningRate, d)));
  }
  for (let i = <usize>e4 * 4; i < <usize>e * 4; i += 4) {
    let d = sumGrad1(gradsBase, gradStrideBytes, numGradBuffers, i);
    const p = load<f32>(params + i);
    if (l2) d = d + weightDecayf * p;
    if (useMom) {
      const g = d;
      if (!first) d = load<f32>(momentumBuf + i) * momentumf + d;
      d = flush1(d);
      store<f32>(momentumBuf + i, d);
      if (useNesterov) d = g + momentumf * d;
    }
    store<f32>(params + i, p + negativeLearningRate * d);
  }
}
