// 2-D convolution, stride 1, no padding (PyTorch's nn.Conv2d(in, out, k)), over a batch in N,C,H,W order.
// This is the plain reference the WebAssembly kernels are tested against; clarity over speed.
import type { FloatArray } from '../floatArray';

export interface Conv2dShape {
  inChannels: number;
  outChannels: number;
  kernel: number;
  inSize: number; // square inputs: inSize x inSize
}

export function conv2dOutSize(s: Conv2dShape): number {
  return s.inSize - s.kernel + 1;
}

/** out[n,o,y,x] = bias[o] + sum_{c,i,j} weight[o,c,i,j] * input[n,c,y+i,x+j] */
export function conv2dForward(s: Conv2dShape, batch: number, input: FloatArray, weight: FloatArray, bias: FloatArray, out: FloatArray): void {
  const { inChannels: C, outChannels: O, kernel: K, inSize: H } = s;
  const Ho = H - K + 1;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < O; o++) {
      const outBase = (n * O + o) * Ho * Ho;
      for (let y = 0; y < Ho; y++) {
        for (let x = 0; x < Ho; x++) {
          let acc = bias[o];
          for (let c = 0; c < C; c++) {
            const inBase = (n * C + c) * H * H;
            const wBase = (o * C + c) * K * K;
            for (let i = 0; i < K; i++) {
              for (let j = 0; j < K; j++) acc += weight[wBase + i * K + j] * input[inBase + (y + i) * H + x + j];
            }
          }
          out[outBase + y * Ho + x] = acc;
        }
      }
    }
  }
}

/**
 * Gradients of the loss with respect to the weight and bias (overwritten), and to the input (overwritten
 * when gradInput is given; the first layer does not need it).
 */
export function conv2dBackward(
  s: Conv2dShape, batch: number, input: FloatArray, weight: FloatArray, gradOut: FloatArray,
  gradWeight: FloatArray, gradBias: FloatArray, gradInput: FloatArray | null,
): void {
  const { inChannels: C, outChannels: O, kernel: K, inSize: H } = s;
  const Ho = H - K + 1;
  gradWeight.fill(0);
  gradBias.fill(0);
  if (gradInput) gradInput.fill(0, 0, batch * C * H * H);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < O; o++) {
      const gBase = (n * O + o) * Ho * Ho;
      for (let y = 0; y < Ho; y++) {
        for (let x = 0; x < Ho; x++) {
          const g = gradOut[gBase + y * Ho + x];
          if (g === 0) continue;
          gradBias[o] += g;
          for (let c = 0; c < C; c++) {
            const inBase = (n * C + c) * H * H;
            const wBase = (o * C + c) * K * K;
            for (let i = 0; i < K; i++) {
              for (let j = 0; j < K; j++) {
                gradWeight[wBase + i * K + j] += g * input[inBase + (y + i) * H + x + j];
                if (gradInput) gradInput[inBase + (y + i) * H + x + j] += g * weight[wBase + i * K + j];
              }
            }
          }
        }
      }
    }
  }
}
