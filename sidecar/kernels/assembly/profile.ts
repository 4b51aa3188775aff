// Profiling entry (not part of the product build): the public exports plus loops that run one layer kernel
// `reps` times on the state a previous trainShard call left in scratch. Built and used by bench/kernels-profile.mjs.
export * from './index';
import {
  FIXED, S_Y1, S_Y2, S_W2T, S_W1S, S_TAP, S_CNT, P1T_CUM, XT_CUM, transposeImage, prepareConv1, normalise, conv1Forward, pool1, transposeConv2, conv2Forward, pool2,
  linearForward, linearBackwardW, linearBackwardX, convBackwardEntries, conv2WeightGrad, conv1WeightGrad,
  F1W, F1B, F2W, F2B, F3W, F3B, X_CUM, P1_CUM, A1G_CUM, A1_CUM, A2G_CUM, H1_CUM, H2_CUM, LG_CUM, DL_CUM,
  DH2_CUM, DH1_CUM, DA1_CUM, H1_SIZE, H2_SIZE, LG_SIZE, DL_SIZE, DH2_SIZE, DH1_SIZE,
} from './kernels';

export function profNormalise(images: usize, scratch: usize, reps: i32): void {
  for (let r = 0; r < reps; r++) normalise(images, scratch + FIXED);
}
export function profTransposeImage(scratch: usize, N: usize, reps: i32): void {
  for (let r = 0; r < reps; r++) transposeImage(scratch + FIXED, scratch + FIXED + N * XT_CUM);
}
export function profPrepareConv1(params: usize, scratch: usize, reps: i32): void {
  for (let r = 0; r < reps; r++) prepareConv1(params, scratch + S_W1S, scratch + S_TAP);
}
export function profConv1(params: usize, scratch: usize, reps: i32): void {
  for (let r = 0; r < reps; r++) conv1Forward(params, scratch + S_W1S, scratch + S_TAP, scratch + FIXED, scratch + S_Y1);
}
export function profPool1(scratch: usize, N: usize, reps: i32): void {
  const base = scratch + FIXED;
  for (let r = 0; r < reps; r++) pool1(scratch + S_Y1, base + N * P1_CUM, base + N * P1T_CUM, base + N * A1G_CUM, base, base + N * XT_CUM);
}
export function profConv2(params: usize, scratch: usize, N: usize, reps: i32): void {
  const base = scratch + FIXED;
  for (let r = 0; r < reps; r++) conv2Forward(params, scratch + S_W2T, base + N * P1_CUM, scratch + S_Y2);
}
export function profTranspose2(params: usize, scratch: usize, reps: i32): void {
  for (let r = 0; r < reps; r++) transposeConv2(params, scratch + S_W2T);
}
export function profPool2(scratch: usize, N: usize, reps: i32): void {
  const base = scratch + FIXED;
  for (let r = 0; r < reps; r++) pool2(scratch + S_Y2, base + N * A1_CUM, base + N * A2G_CUM);
}
export function profFcForward(params: usize, scratch: usize, n: i32, reps: i32): void {
  const N = <usize>n;
  const base = scratch + FIXED;
  const h1 = base + N * H1_CUM;
  const h2 = base + N * H2_CUM;
  for (let r = 0; r < reps; r++) {
    linearForward(params + F1W, params + F1B, base + N * A1_CUM, h1, n, 400, 120, H1_SIZE, true);
    linearForward(params + F2W, params + F2B, h1, h2, n, 120, 84, H2_SIZE, true);
    linearForward(params + F3W, params + F3B, h2, base + N * LG_CUM, n, 84, 10, LG_SIZE, false);
  }
}
export function profFcBackward(params: usize, grads: usize, scratch: usize, n: i32, reps: i32): void {
  const N = <usize>n;
  const base = scratch + FIXED;
  const dl = base + N * DL_CUM, a1 = base + N * A1_CUM, h1 = base + N * H1_CUM, h2 = base + N * H2_CUM;
  const dh2 = base + N * DH2_CUM, dh1 = base + N * DH1_CUM, da1 = base + N * DA1_CUM;
  for (let r = 0; r < reps; r++) {
    linearBackwardW(dl, DL_SIZE, h2, n, 84, 10, grads + F3W, grads + F3B);
    linearBackwardX(dl, DL_SIZE, params + F3W, n, 84, 10, dh2, h2);
    linearBackwardW(dh2, DH2_SIZE, h1, n, 120, 84, grads + F2W, grads + F2B);
    linearBackwardX(dh2, DH2_SIZE, params + F2W, n, 120, 84, dh1, h1);
    linearBackwardW(dh1, DH1_SIZE, a1, n, 400, 120, grads + F1W, grads + F1B);
    linearBackwardX(dh1, DH1_SIZE, params + F1W, n, 400, 120, da1, 0);
  }
}
export function profConvEntries(params: usize, scratch: usize, n: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) convBackwardEntries(params, n, <usize>n, scratch);
}
export function profConv2W(grads: usize, scratch: usize, n: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) conv2WeightGrad(grads, <usize>n, scratch);
}
export function profConv1W(grads: usize, scratch: usize, n: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) conv1WeightGrad(grads, n, <usize>n, scratch);
}
export function profCountsOffset(): usize {
  return S_CNT;
}
