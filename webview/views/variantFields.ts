// The new-run fields of issue 14 that are fixed for a run: Nesterov momentum (SGD), bias correction (the Adam
// family's ablation) and the data augmentation. Which apply follows the optimizer picked; the protocol's
// `variantError` says why a combination is refused, the sentence the sidecar would answer.
import { AUGMENTATIONS, type OptimizerName, type RunConfig, type StartConfig } from '../../sidecar/protocol';
import { variantError } from '../../sidecar/optim/hyperparameters';
import { h } from '../dom';

export class VariantFields {
  readonly elements: HTMLElement[];
  private readonly nesterov: HTMLInputElement;
  private readonly biasCorrection: HTMLInputElement;
  private readonly augment: HTMLSelectElement;

  constructor(onInput: () => void) {
    this.nesterov = h('input', { id: 'field-nesterov', type: 'checkbox' });
    this.biasCorrection = h('input', { id: 'field-biasCorrection', type: 'checkbox', checked: true });
    this.augment = h('select', { id: 'field-augment' }, ...AUGMENTATIONS.map((a) => h('option', { value: a }, a)));
    for (const el of [this.nesterov, this.biasCorrection, this.augment]) el.addEventListener('input', onInput);
    this.elements = [
      h('div', { class: 'field' }, h('label', { for: 'field-nesterov', title: 'SGD: PyTorch\'s nesterov=True' }, 'nesterov'), this.nesterov),
      h('div', { class: 'field' }, h('label', { for: 'field-biasCorrection', title: 'Adam family: off is the ablation of Kingma & Ba, section 3' }, 'bias correction'), this.biasCorrection),
      h('div', { class: 'field' }, h('label', { for: 'field-augment', title: 'flip-crop: random horizontal flip and 4-pixel pad-and-crop' }, 'augment'), this.augment),
    ];
  }

  /** A new run starts like the open one. */
  show(config: RunConfig): void {
    this.nesterov.checked = config.nesterov;
    this.biasCorrection.checked = config.biasCorrection;
    this.augment.value = config.augment;
  }

  /** Only the fields that apply to `optimizer` can be changed. */
  follow(optimizer: OptimizerName): void {
    this.nesterov.disabled = optimizer !== 'sgd';
    this.biasCorrection.disabled = !adamFamily(optimizer);
  }

  /** The fields for `optimizer` (those that do not apply to it are left out), or the reason they cannot be. */
  read(optimizer: OptimizerName, momentum: number | undefined): { values?: StartConfig; error?: string } {
    const values: StartConfig = { augment: this.augment.value as StartConfig['augment'] };
    if (optimizer === 'sgd' && this.nesterov.checked) values.nesterov = true;
    if (adamFamily(optimizer) && !this.biasCorrection.checked) values.biasCorrection = false;
    const error = variantError({ optimizer, momentum: momentum ?? 0.9, nesterov: values.nesterov ?? false, biasCorrection: values.biasCorrection ?? true });
    return error ? { error } : { values };
  }
}

const adamFamily = (optimizer: OptimizerName) => optimizer === 'adam' || optimizer === 'adamw' || optimizer === 'amsgrad';
