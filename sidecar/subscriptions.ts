// Who receives a run's messages: the clients subscribed to it. A subscriber first gets the run's history (read
// from the run store and compacted), then every live message, with nothing falling between the two.
import type { Client } from './runManager';
import { isEnded, metricsColumns, type RunConfig, type RunState, type ServerMessage } from './protocol';
import { readSummary } from './store/historySummary';
import type { RunStore } from './store/runs';

export class Subscriptions {
  private readonly byRun = new Map<string, Set<Client>>();

  constructor(private readonly store: RunStore) {}

  /** Sends `client` the run's history (with the live run's config and state when it trains here) and subscribes it. */
  subscribe(client: Client, runId: string, live: { config: RunConfig; state: RunState } | undefined, requestId?: string | number): void {
    const h = readSummary(this.store, runId);
    const state = live ? live.state : h.state;
    client.send({
      type: 'history',
      runId,
      config: live ? live.config : h.config,
      state,
      ...(isEnded(state) && h.reason !== undefined ? { reason: h.reason } : {}),
      ...(h.parentRunId !== undefined ? { parentRunId: h.parentRunId } : {}),
      ...(h.forkStep !== undefined ? { forkStep: h.forkStep } : {}),
      metrics: metricsColumns(h.metrics),
      evals: h.evals,
      applied: h.applied,
      stepHistograms: h.stepHistograms,
      plans: h.plans,
      ...(requestId !== undefined ? { requestId } : {}),
    });
    // Reading the history and subscribing happen in one turn of the event loop: no message falls between.
    this.add(client, runId);
  }

  add(client: Client, runId: string): void {
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    set.add(client);
  }

  unsubscribe(client: Client, runId: string): void {
    this.byRun.get(runId)?.delete(client);
  }

  /** A client went away: it is no one's subscriber. */
  disconnect(client: Client): void {
    for (const set of this.byRun.values()) set.delete(client);
  }

  /** The run is gone (deleted). */
  forget(runId: string): void {
    this.byRun.delete(runId);
  }

  broadcast(runId: string, msg: ServerMessage, except?: Set<Client>): void {
    for (const c of this.byRun.get(runId) ?? []) if (!except?.has(c)) c.send(msg);
  }
}
