// The learning-rate schedule of the open run (sidecar/optim/schedule.ts), edited mid-run like the hyperparameters:
// the same field names and the protocol's own checks; an edit is a normal `update`, applied at the next step, marked
// on the charts, and the planned lr (dashed on the lr chart) redraws from its step. A new run started from the
// dashboard takes these values too.
import { fieldError, LIVE_STATES, SCHEDULE_FIELDS, SCHEDULES, type LiveHyperparameters, type ScheduleField, type StartConfig } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import type { RunData } from '../runData';

type NumberField = Exclude<ScheduleField, 'schedule'>;
const NUMBER_FIELDS: readonly NumberField[] = SCHEDULE_FIELDS.filter((f): f is NumberField => f !== 'schedule');

const LABELS: Record<NumberField, [string, string]> = {
  warmupSteps: ['warmup steps', 'linear, every schedule'],
  minLearningRate: ['min lr', 'cosine: the lr at the end'],
  maxLearningRate: ['max lr', 'onecycle: the peak'],
  stepSize: ['step size', 'step: every N steps'],
  gamma: ['γ', 'step: lr × γ'],
  pctStart: ['pct start', 'onecycle: part rising'],
};

/** Which fields a schedule reads (the others are kept, and shown dimmed). */
const USED: Record<(typeof SCHEDULES)[number], readonly NumberField[]> = {
  constant: ['warmupSteps'],
  step: ['warmupSteps', 'stepSize', 'gamma'],
  cosine: ['warmupSteps', 'minLearningRate'],
  onecycle: ['warmupSteps', 'maxLearningRate', 'pctStart'],
};

const DEFAULTS: Record<ScheduleField, number | string> = { schedule: 'constant', warmupSteps: 0, minLearningRate: 0, maxLearningRate: 0.01, stepSize: 1000, gamma: 0.1, pctStart: 0.3 };

export interface ScheduleActions {
  apply(runId: string, changes: LiveHyperparameters): void;
}

export class ScheduleForm {
  readonly element: HTMLElement;
  private readonly kind: HTMLSelectElement;
  private readonly inputs = new Map<NumberField, HTMLInputElement>();
  private readonly errors = new Map<NumberField, HTMLElement>();
  private readonly rows = new Map<NumberField, HTMLElement>();
  private readonly dirty = new Set<ScheduleField>();
  private readonly applyButton: HTMLButtonElement;
  private run?: RunData;
  private connected = false;

  constructor(private readonly actions: ScheduleActions) {
    this.kind = h('select', { id: 'field-schedule', name: 'schedule' }, ...SCHEDULES.map((s) => h('option', { value: s }, s)));
    this.kind.addEventListener('input', () => {
      this.dirty.add('schedule');
      this.refresh();
    });
    const rows = NUMBER_FIELDS.map((field) => {
      const [label, hint] = LABELS[field];
      const input = h('input', { id: `field-${field}`, name: field, type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `error-${field}` });
      const error = h('div', { id: `error-${field}`, class: 'field-error', role: 'alert' });
      input.addEventListener('input', () => {
        this.dirty.add(field);
        this.refresh();
      });
      this.inputs.set(field, input);
      this.errors.set(field, error);
      const row = h('div', { class: 'field' }, h('label', { for: `field-${field}` }, label, h('span', { class: 'hint' }, hint)), input, error);
      this.rows.set(field, row);
      return row;
    });
    this.applyButton = h('button', { id: 'apply-schedule', type: 'button' }, 'Apply schedule');
    this.applyButton.addEventListener('click', () => this.onApply());
    this.element = h(
      'section',
      { class: 'card form-card', id: 'schedule-card', 'aria-labelledby': 'schedule-title' },
      h('h2', { id: 'schedule-title' }, 'Learning-rate schedule'),
      h(
        'p',
        { class: 'hint' },
        'Counted in optimizer steps as PyTorch\'s StepLR, CosineAnnealingLR and OneCycleLR, over the run. An lr edit rescales the schedule from its step (under onecycle, edit max lr).',
      ),
      h('form', { class: 'fields', autocomplete: 'off' }, h('div', { class: 'field' }, h('label', { for: 'field-schedule' }, 'schedule'), this.kind), ...rows),
      h('div', { class: 'actions' }, this.applyButton),
    );
    this.fill(DEFAULTS);
    this.refresh();
  }

  /** The run the form edits: a different run resets the fields, the same one refreshes the untouched ones. */
  setRun(run: RunData | undefined, connected: boolean): void {
    const changed = run?.runId !== this.run?.runId;
    this.run = run;
    this.connected = connected;
    if (changed) this.dirty.clear();
    if (run) this.fill(run.config as unknown as Record<ScheduleField, number | string>);
    this.refresh();
  }

  /** The sidecar applied an edit: its fields are no longer being edited. */
  applied(fields: string[]): void {
    for (const f of fields) this.dirty.delete(f as ScheduleField);
    if (this.run) this.fill(this.run.config as unknown as Record<ScheduleField, number | string>);
    this.refresh();
  }

  /** The schedule for a new run, or undefined while a field is invalid. */
  values(): Partial<StartConfig> | undefined {
    const r = this.read();
    return Object.keys(r.errors).length ? undefined : (r.values as Partial<StartConfig>);
  }

  private fill(values: Record<ScheduleField, number | string>): void {
    if (!this.dirty.has('schedule') && values.schedule !== undefined) this.kind.value = String(values.schedule);
    for (const [field, input] of this.inputs) if (!this.dirty.has(field) && values[field] !== undefined) input.value = String(values[field]);
  }

  private read(): { values: Record<string, number | string>; errors: Partial<Record<NumberField, string>> } {
    const values: Record<string, number | string> = { schedule: this.kind.value };
    const errors: Partial<Record<NumberField, string>> = {};
    for (const [field, input] of this.inputs) {
      const text = input.value.trim();
      const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : text === '' ? undefined : text;
      const error = fieldError(field, value);
      if (error) errors[field] = error;
      else values[field] = value as number;
    }
    return { values, errors };
  }

  private changes(): LiveHyperparameters {
    const { values } = this.read();
    const config = (this.run?.config ?? {}) as Record<string, unknown>;
    const out: Record<string, number | string> = {};
    for (const f of SCHEDULE_FIELDS) if (values[f] !== undefined && values[f] !== (config[f] ?? DEFAULTS[f])) out[f] = values[f];
    return out as LiveHyperparameters;
  }

  private refresh(): void {
    const { errors } = this.read();
    const used = USED[this.kind.value as keyof typeof USED] ?? [];
    for (const [field, el] of this.errors) {
      setText(el, errors[field] ?? '');
      this.inputs.get(field)!.setAttribute('aria-invalid', errors[field] ? 'true' : 'false');
      this.rows.get(field)!.classList.toggle('unused', !used.includes(field));
    }
    const live = this.run !== undefined && LIVE_STATES.has(this.run.state);
    this.applyButton.disabled = !this.connected || !live || Object.keys(errors).length > 0 || Object.keys(this.changes()).length === 0;
  }

  private onApply(): void {
    const changes = this.changes();
    if (this.run && Object.keys(changes).length) this.actions.apply(this.run.runId, changes);
  }
}
