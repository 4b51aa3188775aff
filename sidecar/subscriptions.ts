// Who receives a run's messages: the clients subscribed to it. A subscriber first gets the run's history (read
// from the run store and compacted), then every live message, with nothing falling between the two.
import type { Client } from './runManager';
import { SUMMARY_POINTS, type RunConfig, type RunState, type ServerMessage } from './protocol';
import type { RunStore } from './store/runs';
import { compactColumns } from './stepHistogramColumns';

/** A subscriber's history holds at most this many step-histogram columns (neighbours merged, their counts summed). */
export const HISTORY_STEP_HISTOGRAMS = 240;

export class Subscriptions {
  private readonly byRun = new Map<string, Set<Client>>();

  constructor(private readonly store: RunStore) {}

  /** Sends `client` the run's history (with the live run's config and state when it trains here) and subscribes it. */
  subscribe(client: Client, runId: string, live: { config: RunConfig; state: RunState } | undefined, requestId?: string | number): void {
    const h = this.store.readHistory(runId);
    client.send({
      type: 'history',
      runId,
      config: live ? live.config : h.config,
      state: live ? live.state : h.state,
      ...(h.parentRunId !== undefined ? { parentRunId: h.parentRunId } : {}),
      ...(h.forkStep !== undefined ? { forkStep: h.forkStep } : {}),
      metrics: withoutOptimizerStats(compactMetrics(h.metrics, SUMMARY_POINTS)),
      evals: h.evals,
      applied: h.applied,
      stepHistograms: compactColumns(h.stepHistograms, HISTORY_STEP_HISTOGRAMS),
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

/** The Adam panel shows the latest optimizer statistics only: the history carries the last message's alone. */
function withoutOptimizerStats<T extends { optimizer?: unknown }>(list: T[]): T[] {
  return list.map((m, i) => {
    if (i === list.length - 1 || m.optimizer === undefined) return m;
    const { optimizer: _dropped, ...rest } = m;
    return rest as T;
  });
}

/** Merges neighbouring metrics so a long run's history stays under `max` messages; min and max survive. */
export function compactMetrics<T extends { loss: number; lossMin: number; lossMax: number; accuracy: number }>(list: T[], max: number): T[] {
  if (list.length <= max) return list;
  const per = Math.ceil(list.length / max);
  const out: T[] = [];
  for (let i = 0; i < list.length; i += per) {
    const group = list.slice(i, i + per);
    const last = group[group.length - 1];
    out.push({
      ...last,
      loss: group.reduce((a, m) => a + m.loss, 0) / group.length,
      accuracy: group.reduce((a, m) => a + m.accuracy, 0) / group.length,
      lossMin: Math.min(...group.map((m) => m.lossMin)),
      lossMax: Math.max(...group.map((m) => m.lossMax)),
    });
  }
  return out;
}
