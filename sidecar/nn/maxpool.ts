// Max pooling 2x2, stride 2 (nn.MaxPool2d(2, 2)) over N*C planes of size inSize x inSize. The forward
// pass records which input won each window so the backward pass routes the gradient there (ties go to the
// first, as PyTorch does).
import type { FloatArray } from '../floatArray';

export function maxPoolForward(planes: number, inSize: number, input: FloatArray, out: FloatArray, argmax: Int32Array): void {
  const o = inSize >> 1;
  for (let p = 0; p < planes; p++) {
    const inBase = p * inSize * inSize;
    const outBase = p * o * o;
    for (let y = 0; y < o; y++) {
      for (let x = 0; x < o; x++) {
        const first = inBase + 2 * y * inSize + 2 * x;
        let best = first;
        if (input[first + 1] > input[best]) best = first + 1;
        if (input[first + inSize] > input[best]) best = first + inSize;
        if (input[first + inSize + 1] > input[best]) best = first + inSize + 1;
        out[outBase + y * o + x] = input[best];
        argmax[outBase + y * o + x] = best;
      }
    }
  }
}

/** gradInput is overwritten: zero except at each window's winner. */
export function maxPoolBackward(planes: number, inSize: number, gradOut: FloatArray, argmax: Int32Array, gradInput: FloatArray): void {
  const outCount = planes * (inSize >> 1) * (inSize >> 1);
  gradInput.fill(0, 0, planes * inSize * inSize);
  for (let i = 0; i < outCount; i++) gradInput[argmax[i]] += gradOut[i];
}
