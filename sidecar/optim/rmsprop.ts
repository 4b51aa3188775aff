// RMSprop (Tieleman & Hinton, 2012) exactly as PyTorch's torch.optim.RMSprop computes it (centered=False):
//   g <- g + wd*p                          (L2 weight decay)
//   v <- alpha*v + (1-alpha)*g^2           the running mean of squared gradients ("square_avg")
//   a <- sqrt(v) + eps
//   buf <- momentum*buf + g/a;  p <- p - lr*buf      (momentum > 0)
//   p <- p - lr*g/a                                  (momentum = 0)
// Adam without its first moment and without bias correction, with eps outside the square root as Adam has it:
// the ablation that isolates what m and the corrections add. Both buffers start at zero, so the first step is
// no special case. Generic over Float32Array and Float64Array; the WebAssembly kernel
// (kernels/assembly/rmsprop.ts) mirrors it.
import type { FloatArray } from '../floatArray';
import { FLUSH_BELOW } from './adam';
import type { OptimizerHyperparameters } from './hyperparameters';

export function rmspropStep<T extends FloatArray>(
  params: T, grad: T, momentumBuffer: T, squareAverage: T, h: Pick<OptimizerHyperparameters, 'learningRate' | 'alpha' | 'epsilon' | 'momentum' | 'weightDecay'>,
  start = 0, end = params.length, flush = true,
): void {
  const { learningRate: lr, alpha, epsilon: eps, momentum, weightDecay: wd } = h;
  const round = params instanceof Float32Array ? Math.fround : (x: number) => x;
  for (let i = start; i < end; i++) {
    const p = params[i];
    const g = wd !== 0 ? round(grad[i] + wd * p) : grad[i];
    let v = alpha * squareAverage[i] + (1 - alpha) * g * g;
    if (flush && v < FLUSH_BELOW) v = 0;
    squareAverage[i] = v;
    const a = round(Math.sqrt(squareAverage[i]) + eps);
    if (momentum !== 0) {
      let b = momentum * momentumBuffer[i] + g / a;
      if (flush && Math.abs(b) < FLUSH_BELOW) b = 0;
      momentumBuffer[i] = b;
      params[i] = p - lr * momentumBuffer[i];
    } else {
      params[i] = p - lr * round(g / a);
    }
  }
}
