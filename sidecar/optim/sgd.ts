// Stochastic gradient descent with momentum, PyTorch semantics (torch.optim.SGD, dampening 0, no Nesterov):
//   d <- g + wd*p;  buf <- d on the first step, else momentum*buf + d;  p <- p - lr*buf
// The seed's comparison run: SGD(lr=0.001, momentum=0.9).
import type { FloatArray } from '../floatArray';
import type { OptimizerHyperparameters } from './hyperparameters';

export function sgdStep<T extends FloatArray>(params: T, grad: T, momentumBuffer: T, firstStep: boolean, h: Pick<OptimizerHyperparameters, 'learningRate' | 'momentum' | 'weightDecay'>, start = 0, end = params.length): void {
  const { learningRate: lr, momentum, weightDecay: wd } = h;
  for (let i = start; i < end; i++) {
    let d = grad[i];
    if (wd !== 0) d += wd * params[i];
    if (momentum !== 0) {
      d = firstStep ? d : momentum * momentumBuffer[i] + d;
      momentumBuffer[i] = d;
    }
    params[i] = params[i] - lr * d;
  }
}
