// Errors a user can meet are values with a code and a sentence that says what to do (STYLE.md rule 5).
// Anything thrown that is not a UserError is a bug and is reported with its stack.

// The codes are part of the protocol (protocol.ts ERROR_CODES), so that a client can act on them.
import type { ErrorCode } from './protocol';
export type { ErrorCode };

export class UserError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly field?: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
