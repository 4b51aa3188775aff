// The `adamTrainer.*` settings as a run configuration, each value checked with the protocol's own
// `fieldError`. An invalid value is an error naming the setting ("adamTrainer.beta1 must be in [0, 1),
// got 1.5") and no run starts; nothing is silently replaced by a default. No `vscode` import: the extension
// passes a getter over `workspace.getConfiguration('adamTrainer')`.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fieldError, type StartConfig } from '../sidecar/protocol';

/** Setting name → configuration field (one name per hyperparameter; two settings say more in their name). */
export const SETTINGS = {
  learningRate: 'learningRate',
  beta1: 'beta1',
  beta2: 'beta2',
  epsilon: 'epsilon',
  weightDecay: 'weightDecay',
  momentum: 'momentum',
  alpha: 'alpha',
  nesterov: 'nesterov',
  biasCorrection: 'biasCorrection',
  augment: 'augment',
  optimizer: 'optimizer',
  batchSize: 'batchSize',
  epochs: 'epochs',
  workers: 'workers',
  seed: 'seed',
  dataPath: 'data',
  checkpointEveryNSteps: 'checkpointEvery',
  // The learning-rate schedule (sidecar/optim/schedule.ts): the same names as on the wire.
  schedule: 'schedule',
  warmupSteps: 'warmupSteps',
  minLearningRate: 'minLearningRate',
  maxLearningRate: 'maxLearningRate',
  stepSize: 'stepSize',
  gamma: 'gamma',
  pctStart: 'pctStart',
} as const;
export type SettingName = keyof typeof SETTINGS;

export interface SettingsSource {
  /** The effective value (user, workspace or folder), or undefined/null when unset. */
  get(name: SettingName): unknown;
  /** The user's own value only: what an untrusted workspace may not override. */
  userValue(name: SettingName): unknown;
}

export interface SettingsOptions {
  /** Whether the workspace is trusted; if not, `dataPath` comes from the user's settings only. */
  trusted: boolean;
  /** A relative `dataPath` is relative to this folder (the first workspace folder). */
  workspaceFolder?: string;
}

export type SettingsResult = { ok: true; config: StartConfig } | { ok: false; errors: string[] };

/** Settings a workspace may not set while untrusted (also declared as restrictedConfigurations). */
export const RESTRICTED: readonly SettingName[] = ['dataPath'];

export function readSettings(source: SettingsSource, options: SettingsOptions): SettingsResult {
  const config: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [name, field] of Object.entries(SETTINGS) as Array<[SettingName, (typeof SETTINGS)[SettingName]]>) {
    let value = !options.trusted && RESTRICTED.includes(name) ? source.userValue(name) : source.get(name);
    if (value === undefined || value === null) continue;
    if (name === 'dataPath') {
      if (value === '') continue;
      if (typeof value === 'string') value = dataPath(value, options.workspaceFolder);
    }
    let error = fieldError(field, value);
    if (error === undefined && name === 'dataPath' && value !== 'sample' && !isAbsolute(value as string)) {
      error = `${field} must be an absolute path, 'sample', or relative to a workspace folder (none is open), got ${JSON.stringify(value)}`;
    }
    if (error !== undefined) errors.push(`adamTrainer.${name}${error.slice(field.length)}`);
    else config[field] = value;
  }
  return errors.length ? { ok: false, errors } : { ok: true, config: config as StartConfig };
}

/** `sample`, `~/…`, an absolute path, or a path relative to the workspace folder. */
function dataPath(value: string, workspaceFolder: string | undefined): string {
  if (value === 'sample' || value.includes('\0')) return value;
  if (value === '~' || value.startsWith('~/')) return join(homedir(), value.slice(1));
  if (isAbsolute(value) || !workspaceFolder) return value;
  return resolve(workspaceFolder, value);
}
