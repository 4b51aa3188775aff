// RMSprop over a slice of the parameters, summing every worker's gradient buffer first. It mirrors
// sidecar/optim/rmsprop.ts `rmspropStep`, the one statement of the rule (PyTorch 1.13's torch.optim.RMSprop,
// centered=False): read that for the formula; this is the same arithmetic in float32 SIMD, with the squared
// average and the momentum buffer flushed to zero below 1e-30 as optim.ts flushes Adam's m and v.
// Parameter indices [start, end): start a multiple of 4; end a multiple of 4 or the last index.
import { PARAMETER_COUNT } from './parameters';
import { flush, flush1, sumGrad1, sumGrads } from './optim';

// One vector at byte offset i (useMom and l2 compile-time constants after inlining).
// @ts-ignore: decorator
@inline function rmspropVec(i: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, buf: usize, sq: usize,
  useMom: bool, l2: bool, vWeightDecay: v128, vAlpha: v128, vOneMinusAlpha: v128, vEpsilon: v128, vMomentum: v128,
  vNegativeLearningRate: v128, tiny: v128, absMask: v128): void {
  let g = sumGrads(gradsBase, stride, numGrad, i);
  const p = v128.load(params + i);
  if (l2) g = f32x4.add(g, f32x4.mul(vWeightDecay, p));
  // v >= 0 (or NaN): no abs needed
  let v = f32x4.add(f32x4.mul(v128.load(sq + i), vAlpha), f32x4.mul(f32x4.mul(vOneMinusAlpha, g), g));
  v = v128.andnot(v, f32x4.lt(v, tiny));
  v128.store(sq + i, v);
  const direction = f32x4.div(g, f32x4.add(f32x4.sqrt(v), vEpsilon));
  if (useMom) {
    const b = flush(f32x4.add(f32x4.mul(v128.load(buf + i), vMomentum), direction), tiny, absMask);
    v128.store(buf + i, b);
    v128.store(params + i, f32x4.add(p, f32x4.mul(vNegativeLearningRate, b)));
  } else {
    v128.store(params + i, f32x4.add(p, f32x4.mul(vNegativeLearningRate, direction)));
  }
}

// @ts-ignore: decorator
@inline function rmspropLoop(from: usize, to: usize, params: usize, gradsBase: usize, stride: usize, numGrad: i32, buf: usize,
  sq: usize, useMom: bool, l2: bool, weightDecayf: f32, alphaf: f32, oneMinusAlpha: f32, epsilonf: f32, momentumf: f32,
  negativeLearningRate: f32): void {
  const tiny = f32x4.splat(1e-30);
  const absMask = i32x4.splat(0x7fffffff & ~(numGrad >> 31));
  const vWeightDecay = f32x4.splat(weightDecayf), vAlpha = f32x4.splat(alphaf), vOneMinusAlpha = f32x4.splat(oneMinusAlpha);
  const vEpsilon = f32x4.splat(epsilonf), vMomentum = f32x4.splat(momentumf), vNegativeLearningRate = f32x4.splat(negativeLearningRate);
  for (let i = from; i < to; i += 16) {
    rmspropVec(i, params, gradsBase, stride, numGrad, buf, sq, useMom, l2, vWeightDecay, vAlpha, vOneMinusAlpha, vEpsilon, vMomentum, vNegativeLearningRate, tiny, absMask);
  }
}

/** PyTorch 1.13 RMSprop (centered=False) over [start, end); g = sum of numGradBuffers buffers; momentumBuf is read and
 *  written only when momentum != 0. Mirrors optim/rmsprop.ts rmspropStep. */
export function rmspropStep(params: usize, gradsBase: usize, gradStrideBytes: usize, numGradBuffers: i32, momentumBuf: usize,
  squareAverage: usize, start: i32, end: i32, lr: f64, alpha: f64, eps: f64, momentum: f64, weightDecay: f64): void {
  const l2 = weightDecay != 0;
  const useMom = momentum != 0;
  const weightDecayf = <f32>weightDecay, alphaf = <f32>alpha, oneMinusAlpha = <f32>(1.0 - alpha), epsilonf = <f32>eps;
  const momentumf = <f32>momentum, negativeLearningRate = <f32>(-lr);
  const s = max(start, 0);
  const e = min(end, PARAMETER_COUNT);
  if (e <= s) return;
  const e4 = s + ((e - s) & ~3);
  const from = <usize>s * 4, to = <usize>e4 * 4;
  // one specialised loop per flag combination (no branches inside)
  if (useMom) {
    if (l2) rmspropLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, momentumBuf, squareAverage, true, true, weightDecayf, alphaf, oneMinusAlpha, epsilonf, momentumf, negativeLearningRate);
    else rmspropLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, momentumBuf, squareAverage, true, false, weightDecayf, alphaf, oneMinusAlpha, epsilonf, momentumf, negativeLearningRate);
  } else {
    if (l2) rmspropLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, momentumBuf, squareAverage, false, true, weightDecayf, alphaf, oneMinusAlpha, epsilonf, momentumf, negativeLearningRate);
    else rmspropLoop(from, to, params, gradsBase, gradStrideBytes, numGradBuffers, momentumBuf, squareAverage, false, false, weightDecayf, alphaf, oneMinusAlpha, epsilonf, momentumf, negativeLearningRate);
  }
  // scalar tail (end not a multiple of 4)
  for (let i = <usize>e4 * 4; i < <usize>e * 4; i += 4) {
    let g = sumGrad1(gradsBase, gradStrideBytes, numGradBuffers, i);
    const p = load<f32>(params + i);
    if (l2) g = g + weightDecayf * p;
    const v = flush1(load<f32>(squareAverage + i) * alphaf + (oneMinusAlpha * g) * g);
    store<f32>(squareAverage + i, v);
    const direction = g / (Mathf.sqrt(v) + epsilonf);
    if (useMom) {
      const b = flush1(load<f32>(momentumBuf + i) * momentumf + direction);
      store<f32>(momentumBuf + i, b);
      store<f32>(params + i, p + negativeLearningRate * b);
    } else {
      store<f32>(params + i, p + negativeLearningRate * direction);
    }
  }
}
