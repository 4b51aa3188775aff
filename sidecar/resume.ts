// The rules of a resume, one statement for the command line (`train --resume`) and the server (`start` with
// `resumeFrom`), DESIGN.md `--resume`: the checkpoint's configuration, with the fields that say where and how to
// run replaced by the ones given; a live hyperparameter given with it becomes an edit at the resume step; a
// different seed or optimizer is an error (a resumed run keeps them: fork it, or start a new run).
import { UserError, type ErrorCode } from './errors';
import { LIVE_HYPERPARAMETERS, SCHEDULE_FIELDS, type LiveHyperparameters, type RunConfig, type StartConfig } from './protocol';
import type { RunRecord } from './store/runs';
import type { TrainingState } from './store/state';

/** Configuration fields a resumed run keeps: what it is (the optimizer and its variant, the data it draws). */
export const KEPT = ['seed', 'optimizer', 'biasCorrection', 'nesterov', 'augment'] as const;
export type KeptField = (typeof KEPT)[number];

/** Configuration fields that say where and how to run, which a resume may change. */
export const WHERE_AND_HOW = ['data', 'epochs', 'maxSteps', 'workers', 'logEvery', 'checkpointEvery'] as const;

/**
 * The configuration a resumed run trains with, and the live hyperparameter edits to apply at its first step.
 * `name` says how the caller's user wrote a field (the command line's `--seed`), `code` what a refusal is.
 */
export function resumedConfig(
  state: TrainingState, start: StartConfig, name: (field: KeptField) => string = (f) => f, code: ErrorCode = 'bad_config',
): { config: RunConfig; edits: LiveHyperparameters } {
  for (const field of KEPT) {
    if (start[field] !== undefined && start[field] !== state.config[field]) {
      throw new UserError(code, `${name(field)} ${start[field]} differs from the checkpoint's ${field} ${state.config[field]}; a resumed run keeps its ${field} (fork it, or start a new run)`, field);
    }
  }
  const config: RunConfig = { ...state.config };
  for (const field of WHERE_AND_HOW) if (start[field] !== undefined) (config as Record<string, unknown>)[field] = start[field];
  const edits: LiveHyperparameters = {};
  for (const k of [...LIVE_HYPERPARAMETERS, ...SCHEDULE_FIELDS]) if (start[k] !== undefined && start[k] !== state.config[k]) (edits as Record<string, unknown>)[k] = start[k];
  return { config, edits };
}

/** Only the live hyperparameters of `changes`. */
export function pickChanges(changes: LiveHyperparameters): LiveHyperparameters {
  const out: LiveHyperparameters = {};
  for (const k of [...LIVE_HYPERPARAMETERS, ...SCHEDULE_FIELDS]) if (changes[k] !== undefined) (out as Record<string, unknown>)[k] = changes[k];
  return out;
}

/**
 * Refuses a checkpoint that names a run of the runs folder without being that run's: a resume in place rewinds the
 * run's losses and replaces its checkpoints, and the run id in a checkpoint's header is only text that anyone can
 * write (the checksum is recomputed as easily). The run's folder records what a run never changes: its seed, its
 * optimizer, its parent, and the step it was forked at, before which it has no checkpoint.
 */
export function checkCheckpointOfRun(state: TrainingState, record: RunRecord, file: string): void {
  const differs = (what: string, recorded: unknown, checkpoint: unknown) =>
    new UserError('bad_checkpoint',
      `${file} names run ${state.runId}, but that run's folder records ${what} ${recorded} and the checkpoint ${checkpoint}: ` +
        'it is not that run\'s checkpoint, and resuming it in place would overwrite the run (refused; nothing was changed)');
  for (const field of ['seed', 'optimizer'] as const) {
    if (state.config[field] !== record.config[field]) throw differs(field, record.config[field], state.config[field]);
  }
  if (state.parentRunId !== undefined && state.parentRunId !== record.parentRunId) throw differs('parent run', record.parentRunId ?? 'none', state.parentRunId);
  if (record.forkStep !== undefined && state.step < record.forkStep) throw differs('fork step', record.forkStep, `step ${state.step}`);
}
