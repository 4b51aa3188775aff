// Errors a user can meet are values with a code and a sentence that says what to do (STYLE.md rule 5).
// Anything thrown that is not a UserError is a bug and is reported with its stack.

export type ErrorCode =
  | 'bad_usage' // command line flags (exit 2)
  | 'bad_config' // a run configuration or setting
  | 'bad_dataset' // a dataset file or folder
  | 'download_failed'
  | 'bad_checkpoint'
  | 'bad_path'
  | 'bad_message'
  | 'rate_limited'
  | 'unknown_run'
  | 'run_busy' // the run is being trained by another process, or must be stopped first
  | 'run_failed'
  | 'worker_failed';

export class UserError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly field?: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
