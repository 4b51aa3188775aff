// Stochastic gradient descent with momentum, PyTorch semantics (torch.optim.SGD, dampening 0):
//   d <- g + wd*p;  buf <- d on the first step, else momentum*buf + d
//   p <- p - lr*buf                  (heavy ball)
//   p <- p - lr*(d + momentum*buf)   (nesterov: PyTorch's form of Sutskever et al.'s Nesterov momentum)
// The seed's comparison run: SGD(lr=0.001, momentum=0.9).
import type { FloatArray } from '../floatArray';
import type { OptimizerHyperparameters } from './hyperparameters';

export function sgdStep<T extends FloatArray>(params: T, grad: T, momentumBuffer: T, firstStep: boolean, h: Pick<OptimizerHyperparameters, 'learningRate' | 'momentum' | 'weightDecay' | 'nesterov'>, start = 0, end = params.length): void {
  const { learningRate: lr, momentum, weightDecay: wd } = h;
  const nesterov = h.nesterov && momentum !== 0;
  // Nesterov's sum is stored by PyTorch in float32: round it as the buffers round on store.
  const round = params instanceof Float32Array ? Math.fround : (x: number) => x;
  for (let i = start; i < end; i++) {
    let d = grad[i];
    if (wd !== 0) d += wd * params[i];
    if (momentum !== 0) {
      const g = nesterov ? round(d) : 0;
      d = firstStep ? d : momentum * momentumBuffer[i] + d;
      momentumBuffer[i] = d;
      if (nesterov) d = round(g + momentum * momentumBuffer[i]);
    }
    params[i] = params[i] - lr * d;
  }
}
