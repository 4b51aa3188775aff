// The rules of a resume, one statement for the command line (`train --resume`) and the server (`start` with
// `resumeFrom`), DESIGN.md `--resume`: the checkpoint's configuration, with the fields that say where and how to
// run replaced by the ones given; a live hyperparameter given with it becomes an edit at the resume step; a
// different seed or optimizer is an error (a resumed run keeps them: fork it, or start a new run).
import { UserError, type ErrorCode } from './errors';
import { LIVE_HYPERPARAMETERS, type LiveHyperparameters, type RunConfig, type StartConfig } from './protocol';
import type { TrainingState } from './store/state';

/** Configuration fields that say where and how to run, which a resume may change. */
export const WHERE_AND_HOW = ['data', 'epochs', 'maxSteps', 'workers', 'logEvery', 'checkpointEvery'] as const;

/**
 * The configuration a resumed run trains with, and the live hyperparameter edits to apply at its first step.
 * `name` says how the caller's user wrote a field (the command line's `--seed`), `code` what a refusal is.
 */
export function resumedConfig(
  state: TrainingState, start: StartConfig, name: (field: 'seed' | 'optimizer') => string = (f) => f, code: ErrorCode = 'bad_config',
): { config: RunConfig; edits: LiveHyperparameters } {
  for (const field of ['seed', 'optimizer'] as const) {
    if (start[field] !== undefined && start[field] !== state.config[field]) {
      throw new UserError(code, `${name(field)} ${start[field]} differs from the checkpoint's ${field} ${state.config[field]}; a resumed run keeps its ${field} (fork it, or start a new run)`, field);
    }
  }
  const config: RunConfig = { ...state.config };
  for (const field of WHERE_AND_HOW) if (start[field] !== undefined) (config as Record<string, unknown>)[field] = start[field];
  const edits: LiveHyperparameters = {};
  for (const k of LIVE_HYPERPARAMETERS) if (start[k] !== undefined && start[k] !== state.config[k]) edits[k] = start[k];
  return { config, edits };
}

/** Only the live hyperparameters of `changes`. */
export function pickChanges(changes: LiveHyperparameters): LiveHyperparameters {
  const out: LiveHyperparameters = {};
  for (const k of LIVE_HYPERPARAMETERS) if (changes[k] !== undefined) out[k] = changes[k];
  return out;
}
