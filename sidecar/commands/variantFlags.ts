// The command-line flags of issue 14's optimizer variants and data augmentation, shared by `train` and `compare`:
// `--alpha X` (RMSprop, a live hyperparameter), `--nesterov` (SGD), `--no-bias-correction` (the Adam family's
// ablation) and `--augment none|flip-crop`. Each is checked by the field's one schema in protocol.ts.
import { fieldError, type StartConfig } from '../protocol';
import type { FlagSpec, FlagValues } from './args';

export const VARIANT_FLAGS: Record<string, FlagSpec> = {
  alpha: { kind: 'number', check: (v) => fieldError('alpha', v) },
  nesterov: { kind: 'boolean' },
  'no-bias-correction': { kind: 'boolean' },
  augment: { kind: 'string', check: (v) => fieldError('augment', v) },
};

export const VARIANT_HELP = `  --alpha X              RMSprop's smoothing constant in [0, 1)   (default 0.99)
  --nesterov             SGD with PyTorch's Nesterov momentum (needs --momentum > 0)
  --no-bias-correction   Adam, AdamW, AMSGrad without bias correction (the ablation of Kingma & Ba, section 3)
  --augment NAME         none | flip-crop: random horizontal flip and 4-pixel pad-and-crop  (default none)
`;

/** The fields the variant flags set (an absent flag sets nothing, so a resume keeps the checkpoint's). */
export function variantConfig(flags: FlagValues): StartConfig {
  const out: StartConfig = {};
  if (flags.alpha !== undefined) out.alpha = flags.alpha as number;
  if (flags.nesterov === true) out.nesterov = true;
  if (flags['no-bias-correction'] === true) out.biasCorrection = false;
  if (flags.augment !== undefined) out.augment = flags.augment as StartConfig['augment'];
  return out;
}

/** How the command line spells a configuration field, for messages. */
export function flagOf(field: string): string {
  const names: Record<string, string> = { biasCorrection: '--no-bias-correction', nesterov: '--nesterov', augment: '--augment', learningRate: '--lr', epsilon: '--eps' };
  return names[field] ?? `--${field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
}
