// Fully connected layer y = x W^T + b with W [out, in] row-major, as PyTorch's nn.Linear.
import type { FloatArray } from '../floatArray';

export function linearForward(batch: number, inF: number, outF: number, x: FloatArray, weight: FloatArray, bias: FloatArray, y: FloatArray): void {
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outF; o++) {
      let acc = bias[o];
      for (let i = 0; i < inF; i++) acc += weight[o * inF + i] * x[n * inF + i];
      y[n * outF + o] = acc;
    }
  }
}

/** dW = dy^T x and db = sum_n dy (overwritten); dx = dy W (overwritten). */
export function linearBackward(
  batch: number, inF: number, outF: number, x: FloatArray, weight: FloatArray, gradY: FloatArray,
  gradWeight: FloatArray, gradBias: FloatArray, gradX: FloatArray,
): void {
  gradWeight.fill(0);
  gradBias.fill(0);
  gradX.fill(0, 0, batch * inF);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outF; o++) {
      const g = gradY[n * outF + o];
      gradBias[o] += g;
      for (let i = 0; i < inF; i++) {
        gradWeight[o * inF + i] += g * x[n * inF + i];
        gradX[n * inF + i] += g * weight[o * inF + i];
      }
    }
  }
}
