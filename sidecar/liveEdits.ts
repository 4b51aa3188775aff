// A live hyperparameter edit has one owner, from its request to its answer: this class. It stages the requests
// that arrive between two steps (merged, the later value of a field winning), applies them at the next step
// boundary through the session, and answers every request:
// - something changed: one `applied` message, recorded and broadcast, naming the step at which the new values
//   take effect (the next step: edits are applied while the workers wait between chunks) and every merged
//   request's id (`requestIds`, and `requestId` too when there was one);
// - nothing changed (the values were already in force): each requester alone gets an `applied` with no changes;
// - the edit cannot be applied: each requester gets an `error` with its own requestId.
import { isUserError } from './errors';
import type { AppliedMessage, LiveHyperparameters, ServerMessage } from './protocol';

export type Change = { from: number | string; to: number | string }; // a string: the schedule's name

export interface EditRequest {
  requestId?: string | number;
  /** Sends a message to the requester alone. */
  answer?: (msg: ServerMessage) => void;
}

export class LiveEdits {
  private staged: LiveHyperparameters = {};
  private requests: EditRequest[] = [];

  get pending(): boolean {
    return this.requests.length > 0;
  }

  stage(changes: LiveHyperparameters, request: EditRequest = {}): void {
    this.staged = { ...this.staged, ...changes };
    this.requests.push(request);
  }

  /**
   * Applies what is staged with `apply` (which returns what changed, or throws a UserError) and answers every
   * request. Returns the `applied` message to record and broadcast, or null when nothing changed.
   */
  settle(runId: string, effectiveStep: number, apply: (changes: LiveHyperparameters) => Record<string, Change>): AppliedMessage | null {
    if (!this.pending) return null;
    const edits = this.staged;
    const requests = this.requests;
    this.staged = {};
    this.requests = [];
    let changes: Record<string, Change>;
    try {
      changes = apply(edits);
    } catch (e) {
      const code = isUserError(e) ? e.code : 'internal_error';
      const message = (e as Error).message;
      for (const r of requests) r.answer?.({ type: 'error', code, message, runId, ...(r.requestId !== undefined ? { requestId: r.requestId } : {}) });
      return null;
    }
    if (Object.keys(changes).length === 0) {
      for (const r of requests) r.answer?.({ type: 'applied', runId, step: effectiveStep, changes: {}, ...(r.requestId !== undefined ? { requestId: r.requestId } : {}) });
      return null;
    }
    const requestIds = requests.flatMap((r) => (r.requestId === undefined ? [] : [r.requestId]));
    return { type: 'applied', runId, step: effectiveStep, changes, ...(requestIds.length === 1 ? { requestId: requestIds[0] } : {}), ...(requestIds.length ? { requestIds } : {}) };
  }
}
