// The optimizers and their hyperparameters, named once: the wire (protocol.ts), the settings, the engine and
// the optimizers themselves all use these names and this one interface.
export const OPTIMIZERS = ['adam', 'adamw', 'amsgrad', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerHyperparameters {
  optimizer: OptimizerName;
  learningRate: number;
  beta1: number; // Adam family
  beta2: number;
  epsilon: number;
  weightDecay: number; // L2 added to the gradient (Adam, AMSGrad, SGD), decoupled (AdamW)
  momentum: number; // SGD
}

/** Adam's bias correction 1 - beta^t (Kingma & Ba, Algorithm 1): of beta1 for m, of beta2 for v. t is 1-based. */
export function biasCorrection(beta: number, step: number): number {
  return 1 - Math.pow(beta, step);
}
