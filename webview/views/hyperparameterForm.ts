// The form that edits a run's live hyperparameters mid-run, starts a new run or forks one. Every field is
// checked with the protocol's `fieldError` as it is typed; a refused value is explained next to its field
// and nothing can be sent until it is fixed.
import { fieldError, LIVE_HYPERPARAMETERS, LIVE_STATES, OPTIMIZERS, type LiveHyperparameter, type LiveHyperparameters, type StartConfig } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import { changedFields, fieldText, hasErrors, readForm, type FormState } from '../formModel';
import type { RunData } from '../runData';
import { VariantFields } from './variantFields';

const LABELS: Record<LiveHyperparameter, [string, string]> = {
  learningRate: ['lr', 'learning rate'],
  beta1: ['β1', 'decay of m'],
  beta2: ['β2', 'decay of v'],
  epsilon: ['ε', 'added to √v̂'],
  weightDecay: ['weight decay', ''],
  momentum: ['momentum', 'SGD, RMSprop'],
  alpha: ['α', 'RMSprop: decay of v'],
  batchSize: ['batch size', '1..1024'],
};

export interface FormActions {
  apply(runId: string, changes: LiveHyperparameters): void;
  start(config: StartConfig): void;
  fork(runId: string, step: number, changes: LiveHyperparameters): void;
}

type Status = { text: string; kind: 'pending' | 'ok' | 'error' | 'info' };

export class HyperparameterForm {
  readonly element: HTMLElement;
  private readonly inputs = new Map<LiveHyperparameter, HTMLInputElement>();
  private readonly errors = new Map<LiveHyperparameter, HTMLElement>();
  private readonly dirty = new Set<LiveHyperparameter>();
  private readonly applyButton: HTMLButtonElement;
  private readonly startButton: HTMLButtonElement;
  private readonly forkButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly optimizer: HTMLSelectElement;
  private readonly data: HTMLInputElement;
  private readonly epochs: HTMLInputElement;
  private readonly maxSteps: HTMLInputElement;
  private readonly newRunError: HTMLElement;
  private readonly variants = new VariantFields(() => this.refresh());
  private run?: RunData;
  private connected = false;
  private pending = false;
  private pickedStep?: number;

  constructor(private readonly actions: FormActions) {
    const rows = LIVE_HYPERPARAMETERS.map((field) => {
      const [symbol, hint] = LABELS[field];
      const input = h('input', { id: `field-${field}`, name: field, type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `error-${field}` });
      const error = h('div', { id: `error-${field}`, class: 'field-error', role: 'alert' });
      input.addEventListener('input', () => {
        this.dirty.add(field);
        this.refresh();
      });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !this.applyButton.disabled) this.applyButton.click();
      });
      this.inputs.set(field, input);
      this.errors.set(field, error);
      return h('div', { class: 'field' }, h('label', { for: `field-${field}` }, symbol, hint ? h('span', { class: 'hint' }, hint) : null), input, error);
    });

    this.applyButton = h('button', { id: 'apply', class: 'primary', type: 'button' }, 'Apply to run');
    this.applyButton.addEventListener('click', () => this.onApply());
    this.forkButton = h('button', { id: 'fork', type: 'button', title: 'Click a point on the loss curve to pick the step' }, 'Fork from here');
    this.forkButton.addEventListener('click', () => this.onFork());
    this.status = h('div', { id: 'form-status', class: 'form-status', role: 'status' });

    this.optimizer = h('select', { id: 'field-optimizer' }, ...OPTIMIZERS.map((o) => h('option', { value: o }, o)));
    this.data = h('input', { id: 'field-data', type: 'text', value: 'sample', placeholder: 'empty: download CIFAR-10', spellcheck: 'false' });
    this.epochs = h('input', { id: 'field-epochs', type: 'text', inputmode: 'numeric', value: '2' });
    this.maxSteps = h('input', { id: 'field-maxSteps', type: 'text', inputmode: 'numeric', value: '0', title: '0 = no limit' });
    this.newRunError = h('div', { id: 'error-newrun', class: 'field-error', role: 'alert' });
    for (const el of [this.optimizer, this.data, this.epochs, this.maxSteps]) el.addEventListener('input', () => this.refresh());
    this.startButton = h('button', { id: 'start', type: 'button' }, 'Start new run');
    this.startButton.addEventListener('click', () => this.onStart());

    this.element = h(
      'section',
      { class: 'card form-card', 'aria-labelledby': 'form-title' },
      h('h2', { id: 'form-title' }, 'Hyperparameters'),
      h('form', { class: 'fields', autocomplete: 'off' }, ...rows),
      h('div', { class: 'actions' }, this.applyButton, this.forkButton),
      this.status,
      h(
        'details',
        { class: 'new-run', open: true },
        h('summary', {}, 'New run with these values'),
        h(
          'div',
          { class: 'fields compact' },
          h('div', { class: 'field' }, h('label', { for: 'field-optimizer' }, 'optimizer'), this.optimizer),
          h('div', { class: 'field' }, h('label', { for: 'field-data' }, 'data'), this.data),
          h('div', { class: 'field' }, h('label', { for: 'field-epochs' }, 'epochs'), this.epochs),
          h('div', { class: 'field' }, h('label', { for: 'field-maxSteps' }, 'max steps'), this.maxSteps),
          ...this.variants.elements,
        ),
        this.newRunError,
        h('div', { class: 'actions' }, this.startButton),
      ),
    );
    this.fill({ learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, momentum: 0.9, alpha: 0.99, batchSize: 4 });
  }

  /** The run the form edits. A different run resets the fields; the same run refreshes untouched ones. */
  setRun(run: RunData | undefined, connected: boolean): void {
    const changed = run?.runId !== this.run?.runId;
    this.run = run;
    this.connected = connected;
    if (run) {
      if (changed) this.dirty.clear();
      this.fill(run.config, changed ? undefined : this.dirty);
      if (changed) {
        // A new run from this form starts like the open one: same data, length and seed.
        this.optimizer.value = run.config.optimizer;
        this.data.value = run.config.data ?? '';
        this.epochs.value = String(run.config.epochs);
        this.maxSteps.value = String(run.config.maxSteps);
        this.variants.show(run.config);
      }
    }
    this.refresh();
  }

  setPickedStep(step: number | undefined): void {
    this.pickedStep = step;
    setText(this.forkButton, step === undefined ? 'Fork from here' : `Fork from step ${step}`);
    this.refresh();
  }

  setPending(pending: boolean, status?: Status): void {
    this.pending = pending;
    if (status) this.setStatus(status);
    this.refresh();
  }

  /** The sidecar accepted our change: the fields it changed are no longer "being edited". */
  applied(fields: string[]): void {
    for (const f of fields) this.dirty.delete(f as LiveHyperparameter);
    if (this.run) this.fill(this.run.config, this.dirty);
    this.refresh();
  }

  setStatus(status: Status): void {
    setText(this.status, status.text);
    this.status.className = `form-status ${status.kind}`;
  }

  /** An error the sidecar attached to one field. */
  showFieldError(field: string, message: string): void {
    const el = this.errors.get(field as LiveHyperparameter);
    if (el) setText(el, message);
  }

  /** The form's values as a new run's configuration, or undefined while a field is invalid. */
  newRunConfig(): StartConfig | undefined {
    return this.readNewRun().config;
  }

  private fill(values: Partial<Record<LiveHyperparameter, number>>, keep?: Set<LiveHyperparameter>): void {
    for (const [field, input] of this.inputs) {
      const v = values[field];
      if (v !== undefined && !keep?.has(field)) input.value = fieldText(v);
    }
  }

  private read(): FormState {
    const texts = Object.fromEntries([...this.inputs].map(([f, i]) => [f, i.value])) as Record<LiveHyperparameter, string>;
    return readForm(texts);
  }

  private readNewRun(): { config?: StartConfig; error?: string } {
    const epochs = Number(this.epochs.value.trim());
    const maxSteps = Number(this.maxSteps.value.trim());
    const data = this.data.value.trim();
    const error =
      fieldError('epochs', this.epochs.value.trim() === '' ? undefined : epochs) ??
      fieldError('maxSteps', this.maxSteps.value.trim() === '' ? undefined : maxSteps) ??
      (data ? fieldError('data', data) : undefined);
    if (error) return { error };
    const form = this.read();
    if (hasErrors(form)) return { error: 'fix the hyperparameters above first' };
    const seed = this.run?.config.seed;
    const optimizer = this.optimizer.value as NonNullable<StartConfig['optimizer']>;
    const variants = this.variants.read(optimizer, form.values.momentum);
    if (variants.error) return { error: variants.error };
    return { config: { ...form.values, ...variants.values, optimizer, epochs, maxSteps, ...(data ? { data } : {}), ...(seed !== undefined ? { seed } : {}) } };
  }

  private refresh(): void {
    this.variants.follow(this.optimizer.value as NonNullable<StartConfig['optimizer']>);
    const form = this.read();
    for (const [field, el] of this.errors) {
      const message = form.errors[field] ?? '';
      setText(el, message);
      this.inputs.get(field)!.setAttribute('aria-invalid', message ? 'true' : 'false');
    }
    const run = this.run;
    const live = run && LIVE_STATES.has(run.state);
    const changes = run && !hasErrors(form) ? changedFields(form.values, run.config) : {};
    this.applyButton.disabled = !this.connected || !live || this.pending || hasErrors(form) || Object.keys(changes).length === 0;
    this.forkButton.disabled = !this.connected || !run || this.pickedStep === undefined || hasErrors(form);
    const newRun = this.readNewRun();
    setText(this.newRunError, newRun.error && !hasErrors(form) ? newRun.error : '');
    this.startButton.disabled = !this.connected || !newRun.config;
  }

  private onApply(): void {
    const form = this.read();
    if (!this.run || hasErrors(form)) return;
    const changes = changedFields(form.values, this.run.config);
    if (Object.keys(changes).length) this.actions.apply(this.run.runId, changes);
  }

  private onFork(): void {
    const form = this.read();
    if (!this.run || this.pickedStep === undefined || hasErrors(form)) return;
    this.actions.fork(this.run.runId, this.pickedStep, form.values);
  }

  private onStart(): void {
    const { config } = this.readNewRun();
    if (config) this.actions.start(config);
  }
}
