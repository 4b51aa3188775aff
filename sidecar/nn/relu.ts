// ReLU in place; backward uses the activation itself as the mask (y > 0 exactly where x > 0).
import type { FloatArray } from '../floatArray';

export function reluForward(x: FloatArray, length: number): void {
  for (let i = 0; i < length; i++) if (x[i] < 0) x[i] = 0;
}

/** grad[i] = 0 where the ReLU's output y[i] was 0. */
export function reluBackward(y: FloatArray, grad: FloatArray, length: number): void {
  for (let i = 0; i < length; i++) if (y[i] <= 0) grad[i] = 0;
}
