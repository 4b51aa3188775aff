// Profiling entry (not part of the product build): the public exports plus loops that run one piece of the real
// step (the same functions trainShard calls) `reps` times on the state a previous trainShard call left in scratch. Built and used by bench/kernels-profile.mjs.
export * from './index';
import { FIXED, S_Y1, S_Y2, S_W2T, S_W1S, S_TAP, S_CNT, P1T_CUM, XT_CUM, P1_CUM, A1G_CUM, A1_CUM, A2G_CUM } from './layout';
import { normalise, transposeImage } from './input';
import { conv1Forward, conv1WeightGrad, pool1, prepareConv1 } from './conv1';
import { conv2Forward, conv2WeightGrad, convBackwardEntries, pool2, transposeConv2 } from './conv2';
import { fullyConnectedBackward, fullyConnectedForward } from './net';

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
  for (let r = 0; r < reps; r++) fullyConnectedForward(params, n, <usize>n, scratch);
}
export function profFcBackward(params: usize, grads: usize, scratch: usize, n: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) fullyConnectedBackward(params, grads, n, <usize>n, scratch);
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
