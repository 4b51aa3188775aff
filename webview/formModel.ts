// The hyperparameter form's logic without the DOM: read a field's text, validate it with the protocol's
// own `fieldError` (the same sentence the sidecar and the settings use), and work out what changed.
import { fieldError, LIVE_HYPERPARAMETERS, type LiveHyperparameter, type LiveHyperparameters, type RunConfig } from '../sidecar/protocol';

export type FieldResult = { ok: true; value: number } | { ok: false; error: string };

export function parseField(field: LiveHyperparameter, text: string): FieldResult {
  const trimmed = text.trim();
  // Number('') is 0 and Number('0x10') is 16: only a plain decimal or exponent literal is a number here.
  const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed) ? Number(trimmed) : trimmed === '' ? undefined : trimmed;
  const error = fieldError(field, value);
  if (error !== undefined) return { ok: false, error };
  return { ok: true, value: value as number };
}

export interface FormState {
  values: LiveHyperparameters;
  errors: Partial<Record<LiveHyperparameter, string>>;
}

export function readForm(texts: Record<LiveHyperparameter, string>): FormState {
  const values: Record<string, number> = {};
  const errors: Partial<Record<LiveHyperparameter, string>> = {};
  for (const field of LIVE_HYPERPARAMETERS) {
    const r = parseField(field, texts[field]);
    if (r.ok) values[field] = r.value;
    else errors[field] = r.error;
  }
  return { values: values as LiveHyperparameters, errors };
}

export function hasErrors(state: FormState): boolean {
  return Object.keys(state.errors).length > 0;
}

/** The fields whose value differs from the run's current hyperparameters: what an `update` sends. */
export function changedFields(values: LiveHyperparameters, config: RunConfig): LiveHyperparameters {
  const changes: Record<string, number> = {};
  for (const field of LIVE_HYPERPARAMETERS) {
    const v = values[field];
    if (v !== undefined && v !== config[field]) changes[field] = v;
  }
  return changes as LiveHyperparameters;
}

/** The text a field shows for a value: exact (round-trips), not rounded like chart labels. */
export function fieldText(value: number): string {
  return String(value);
}
