// The network over a shard of samples (scratch laid out for N >= n samples): the layers chained forward, the
// loss, and backward from it, as sidecar/nn/net.ts chains the reference layers. Each piece is a function of its
// own so that the profiling build (profile.ts) times exactly what training runs.
import { A1G_CUM, A1G_SIZE, A1_CUM, A1_SIZE, A2G_CUM, A2G_SIZE, DA1_CUM, DH1_CUM, DH1_SIZE, DH2_CUM, DH2_SIZE, DL_CUM, DL_SIZE, EVAL_CHUNK, FIXED, H1_CUM, H1_SIZE, H2_CUM, H2_SIZE, IMAGE_BYTES, LG_CUM, LG_SIZE, P1T_CUM, P1T_SIZE, P1_CUM, P1_SIZE, S_TAP, S_W1S, S_W2T, S_Y1, S_Y2, XT_CUM, XT_SIZE, X_CUM, X_SIZE } from './layout';
import { FC1_BIAS, FC1_WEIGHT, FC2_BIAS, FC2_WEIGHT, FC3_BIAS, FC3_WEIGHT } from './parameters';
import { normalise, transposeImage } from './input';
import { conv1Forward, conv1WeightGrad, pool1, prepareConv1 } from './conv1';
import { conv2Forward, conv2WeightGrad, convBackwardEntries, pool2, transposeConv2 } from './conv2';
import { linearBackwardW, linearBackwardX, linearForward } from './linear';
import { argmax10, crossEntropy } from './crossEntropy';

/** conv1, pool1, conv2, pool2 for each sample, then the fully connected layers for all n at once. */
export function forwardSamples(params: usize, images: usize, indices: usize, n: i32, N: usize, scratch: usize, training: bool): void {
  const fixed = scratch;
  const base = scratch + FIXED;
  const w2t = fixed + S_W2T;
  transposeConv2(params, w2t);
  prepareConv1(params, fixed + S_W1S, fixed + S_TAP);
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const idx = <usize>load<i32>(indices + su * 4);
    const xs = base + N * X_CUM + su * X_SIZE;
    const p1 = base + N * P1_CUM + su * P1_SIZE;
    normalise(images + idx * IMAGE_BYTES, xs);
    if (training) transposeImage(xs, base + N * XT_CUM + su * XT_SIZE);
    conv1Forward(params, fixed + S_W1S, fixed + S_TAP, xs, fixed + S_Y1);
    pool1(fixed + S_Y1, p1, base + N * P1T_CUM + su * P1T_SIZE, base + N * A1G_CUM + su * A1G_SIZE, xs,
      base + N * XT_CUM + su * XT_SIZE);
    conv2Forward(params, w2t, p1, fixed + S_Y2);
    pool2(fixed + S_Y2, base + N * A1_CUM + su * A1_SIZE, base + N * A2G_CUM + su * A2G_SIZE);
  }
  fullyConnectedForward(params, n, N, scratch);
}

/** fc1, fc2, fc3 (ReLU after the first two) for the n samples whose pool2 outputs are in scratch. */
export function fullyConnectedForward(params: usize, n: i32, N: usize, scratch: usize): void {
  const base = scratch + FIXED;
  const h1 = base + N * H1_CUM;
  const h2 = base + N * H2_CUM;
  linearForward(params + FC1_WEIGHT, params + FC1_BIAS, base + N * A1_CUM, h1, n, 400, 120, H1_SIZE, true);
  linearForward(params + FC2_WEIGHT, params + FC2_BIAS, h1, h2, n, 120, 84, H2_SIZE, true);
  linearForward(params + FC3_WEIGHT, params + FC3_BIAS, h2, base + N * LG_CUM, n, 84, 10, LG_SIZE, false);
}

/** fc3, fc2, fc1 backward from d loss / d logits: their weight and bias gradients, and d loss / d pool2 output. */
export function fullyConnectedBackward(params: usize, grads: usize, n: i32, N: usize, scratch: usize): void {
  const base = scratch + FIXED;
  const dl = base + N * DL_CUM;
  const a1 = base + N * A1_CUM;
  const h1 = base + N * H1_CUM;
  const h2 = base + N * H2_CUM;
  const dh2 = base + N * DH2_CUM;
  const dh1 = base + N * DH1_CUM;
  const da1 = base + N * DA1_CUM;
  linearBackwardW(dl, DL_SIZE, h2, n, 84, 10, grads + FC3_WEIGHT, grads + FC3_BIAS);
  linearBackwardX(dl, DL_SIZE, params + FC3_WEIGHT, n, 84, 10, dh2, h2);
  linearBackwardW(dh2, DH2_SIZE, h1, n, 120, 84, grads + FC2_WEIGHT, grads + FC2_BIAS);
  linearBackwardX(dh2, DH2_SIZE, params + FC2_WEIGHT, n, 120, 84, dh1, h1);
  linearBackwardW(dh1, DH1_SIZE, a1, n, 400, 120, grads + FC1_WEIGHT, grads + FC1_BIAS);
  linearBackwardX(dh1, DH1_SIZE, params + FC1_WEIGHT, n, 400, 120, da1, 0);
}

/** conv2 then conv1 backward from d loss / d pool2 output: their weight and bias gradients. */
export function convolutionBackward(params: usize, grads: usize, n: i32, N: usize, scratch: usize): void {
  convBackwardEntries(params, n, N, scratch);
  conv2WeightGrad(grads, N, scratch);
  conv1WeightGrad(grads, n, N, scratch);
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

  fullyConnectedBackward(params, grads, n, N, scratch);
  convolutionBackward(params, grads, n, N, scratch);
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
