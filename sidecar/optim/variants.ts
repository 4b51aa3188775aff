// What a comparison over seeds compares (issue 14, "Compare optimizers"): an optimizer with its variant, named
// `<optimizer>[-nesterov][-no-bias-correction]`, so that the ablations of the Adam paper (Adam without bias
// correction, SGD with Nesterov momentum) sit beside the optimizers they ablate in one comparison, on the same
// seeds and data. Each name is a run configuration's optimizer, nesterov and biasCorrection fields, and back.
import { OPTIMIZERS, variantError, type OptimizerHyperparameters } from './hyperparameters';

type Variant = Pick<OptimizerHyperparameters, 'optimizer' | 'nesterov' | 'biasCorrection'>;

const nameOf = (v: Variant): string => `${v.optimizer}${v.nesterov ? '-nesterov' : ''}${v.biasCorrection ? '' : '-no-bias-correction'}`;

// Every variant a run can have (variantError allows it at momentum 0.9), the plain optimizers first.
const ALL: Variant[] = [
  ...OPTIMIZERS.map((optimizer) => ({ optimizer, nesterov: false, biasCorrection: true })),
  ...OPTIMIZERS.flatMap((optimizer) => [{ optimizer, nesterov: true, biasCorrection: true }, { optimizer, nesterov: false, biasCorrection: false }]),
].filter((v) => variantError({ ...v, momentum: 0.9 }) === undefined);

export const COMPARED_OPTIMIZERS = ALL.map(nameOf) as [string, ...string[]];
export type ComparedOptimizer = string;

/** The run configuration fields of a compared name (all three, so a base configuration cannot mix them). */
export function variantFields(name: ComparedOptimizer): Variant {
  const v = ALL.find((x) => nameOf(x) === name);
  if (!v) throw new Error(`unknown optimizer variant ${name}`);
  return { ...v };
}

/** The compared name of a run configuration. */
export function variantName(config: Variant): ComparedOptimizer {
  return nameOf(config);
}

export function isComparedOptimizer(name: string): boolean {
  return COMPARED_OPTIMIZERS.includes(name);
}

