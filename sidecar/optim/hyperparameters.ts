// The optimizers and their hyperparameters, named once: the wire (protocol.ts), the settings, the engine and
// the optimizers themselves all use these names and this one interface.
export const OPTIMIZERS = ['adam', 'adamw', 'amsgrad', 'sgd', 'rmsprop'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerHyperparameters {
  optimizer: OptimizerName;
  learningRate: number;
  beta1: number; // Adam family
  beta2: number;
  epsilon: number; // Adam family and RMSprop
  weightDecay: number; // L2 added to the gradient (Adam, AMSGrad, SGD, RMSprop), decoupled (AdamW)
  momentum: number; // SGD and RMSprop
  biasCorrection: boolean; // Adam family: false is the ablation of Kingma & Ba's section 3 (m and v used raw)
  nesterov: boolean; // SGD: PyTorch's Nesterov rule
  alpha: number; // RMSprop's smoothing constant of the squared-gradient average
}

/** Adam's bias correction 1 - beta^t (Kingma & Ba, Algorithm 1): of beta1 for m, of beta2 for v. t is 1-based. */
export function biasCorrection(beta: number, step: number): number {
  return 1 - Math.pow(beta, step);
}

/** The bias corrections a step of the Adam family uses: 1 and 1 (no correction) for the ablation. */
export function biasCorrectionsOf(h: Pick<OptimizerHyperparameters, 'beta1' | 'beta2' | 'biasCorrection'>, step: number): { biasCorrection1: number; biasCorrection2: number } {
  if (!h.biasCorrection) return { biasCorrection1: 1, biasCorrection2: 1 };
  return { biasCorrection1: biasCorrection(h.beta1, step), biasCorrection2: biasCorrection(h.beta2, step) };
}

/** What a combination of variants cannot be (one sentence naming the fields), or undefined when it is valid. */
export function variantError(h: Pick<OptimizerHyperparameters, 'optimizer' | 'momentum' | 'biasCorrection' | 'nesterov'>): string | undefined {
  if (h.nesterov && h.optimizer !== 'sgd') return `nesterov applies to sgd only, and the optimizer is ${h.optimizer}`;
  // PyTorch refuses it too ("Nesterov momentum requires a momentum and zero dampening").
  if (h.nesterov && h.momentum === 0) return 'nesterov needs momentum > 0 (Nesterov momentum without momentum is plain SGD)';
  if (!h.biasCorrection && h.optimizer !== 'adam' && h.optimizer !== 'adamw' && h.optimizer !== 'amsgrad') {
    return `biasCorrection false applies to adam, adamw and amsgrad only, and the optimizer is ${h.optimizer}`;
  }
  return undefined;
}
