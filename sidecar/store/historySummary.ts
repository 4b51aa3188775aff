// A run's history as a subscriber receives it: every series compacted to at most SUMMARY_POINTS metrics (min and
// max kept) and HISTORY_STEP_HISTOGRAMS step-histogram columns, optimizer statistics on the last message only.
// Reading a long run's events.jsonl line by line costs about 100 ms per 10,000 lines; so when a run ends its summary
// is written beside the log (history-summary.json), keyed by the log's size and modification time, and opening
// the finished run reads that instead (issue 13: a run of 1,000,000 steps opens in under a second). The summary is
// only a cache: one that is missing, stale (the log grew: the run was resumed) or damaged is rebuilt from the log.
// It is made of the log's events, each checked against the protocol as it is read (RunStore.readHistory), so a cache
// is checked for damage by its SHA-256, not against the protocol again: checking 1,000 metrics with the protocol's
// schemas took 40 ms in a sidecar that had not run them yet, most of what opening such a run cost the sidecar.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LIVE_STATES, PROTOCOL_VERSION, SUMMARY_POINTS } from '../protocol';
import { compactColumns } from '../stepHistogramColumns';
import { writeFileAtomic } from './checkpoint';
import type { RunHistory, RunStore } from './runs';

export const SUMMARY_FILE = 'history-summary.json';
/** A subscriber's history holds at most this many step-histogram columns (neighbours merged, their counts summed). */
export const HISTORY_STEP_HISTOGRAMS = 240;
/** 2: checked by its SHA-256 (1 was checked against the protocol, and is rebuilt). */
const FORMAT = 2;

/** What of the history comes from the events log (the rest, config and lineage, is config.json's). */
export type HistoryEvents = Pick<RunHistory, 'state' | 'reason' | 'step' | 'metrics' | 'evals' | 'applied' | 'stepHistograms' | 'plans'>;

/** The history compacted for sending. */
export function summarize(h: RunHistory): RunHistory {
  return { ...h, metrics: withoutOptimizerStats(compactMetrics(h.metrics, SUMMARY_POINTS)), stepHistograms: compactColumns(h.stepHistograms, HISTORY_STEP_HISTOGRAMS) };
}

/** The run's compacted history: from its summary file when that matches the log, else from the log (and, for a run
 *  that has ended, the summary is written for next time). */
export function readSummary(store: RunStore, runId: string): RunHistory {
  const record = store.readRecord(runId);
  const key = logKey(store, runId);
  const cached = key ? readCached(store, runId, key) : undefined;
  if (cached) return { runId, ...record, ...cached };
  const summary = summarize(store.readHistory(runId));
  if (key && !LIVE_STATES.has(summary.state)) writeCached(store, runId, key, summary);
  return summary;
}

/** Writes the summary of a run that has just ended (RunStore.appendEvent calls it after the last state). */
export function writeSummary(store: RunStore, runId: string): void {
  const key = logKey(store, runId);
  if (key) writeCached(store, runId, key, summarize(store.readHistory(runId)));
}

interface Key { eventsBytes: number; eventsMtimeMs: number }

function logKey(store: RunStore, runId: string): Key | undefined {
  try {
    const s = statSync(join(store.dir(runId), 'events.jsonl'));
    return { eventsBytes: s.size, eventsMtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

/** The SHA-256 of the history as JSON. JSON.stringify of what JSON.parse read gives back the text it was made of. */
export function historyDigest(history: unknown): string {
  return createHash('sha256').update(JSON.stringify(history)).digest('hex');
}

function readCached(store: RunStore, runId: string, key: Key): HistoryEvents | undefined {
  let doc: { format?: unknown; protocolVersion?: unknown; eventsBytes?: unknown; eventsMtimeMs?: unknown; sha256?: unknown; history?: HistoryEvents } & Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(join(store.dir(runId), SUMMARY_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (doc?.format !== FORMAT || doc.protocolVersion !== PROTOCOL_VERSION || doc.eventsBytes !== key.eventsBytes || doc.eventsMtimeMs !== key.eventsMtimeMs) return undefined;
  if (typeof doc.history !== 'object' || doc.history === null || typeof doc.sha256 !== 'string') return undefined;
  // A damaged or hand-edited file is rebuilt, never sent.
  if (historyDigest(doc.history) !== doc.sha256) return undefined;
  const h = doc.history;
  return { state: h.state, metrics: h.metrics, evals: h.evals, applied: h.applied, stepHistograms: h.stepHistograms, plans: h.plans, ...(h.step !== undefined ? { step: h.step } : {}), ...(h.reason !== undefined ? { reason: h.reason } : {}) };
}

function writeCached(store: RunStore, runId: string, key: Key, h: RunHistory): void {
  const history: HistoryEvents = { state: h.state, metrics: h.metrics, evals: h.evals, applied: h.applied, stepHistograms: h.stepHistograms, plans: h.plans, ...(h.step !== undefined ? { step: h.step } : {}), ...(h.reason !== undefined ? { reason: h.reason } : {}) };
  try {
    writeFileAtomic(join(store.dir(runId), SUMMARY_FILE), JSON.stringify({ format: FORMAT, protocolVersion: PROTOCOL_VERSION, ...key, sha256: historyDigest(history), history }));
  } catch {
    // A cache: a folder that cannot take it (read-only, full) costs the next open a read of the log, nothing more.
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
