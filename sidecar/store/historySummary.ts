// A run's history as a subscriber receives it: every series compacted to at most SUMMARY_POINTS metrics (min and
// max kept) and HISTORY_STEP_HISTOGRAMS step-histogram columns, optimizer statistics on the last message only.
// Reading a long run's events.jsonl line by line costs about 100 ms per 10,000 lines; so when a run ends its summary
// is written beside the log (history-summary.json), keyed by the log's size and modification time, and opening
// the finished run reads that instead (issue 13: a run of 1,000,000 steps opens in under a second). The summary is
// only a cache: one that is missing, stale (the log grew: the run was resumed) or invalid is rebuilt from the log.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LIVE_STATES, SUMMARY_POINTS, validateServerMessage } from '../protocol';
import { compactColumns } from '../stepHistogramColumns';
import { writeFileAtomic } from './checkpoint';
import type { RunHistory, RunStore } from './runs';

export const SUMMARY_FILE = 'history-summary.json';
/** A subscriber's history holds at most this many step-histogram columns (neighbours merged, their counts summed). */
export const HISTORY_STEP_HISTOGRAMS = 240;
const FORMAT = 1;

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

function readCached(store: RunStore, runId: string, key: Key): HistoryEvents | undefined {
  let doc: { format?: unknown; eventsBytes?: unknown; eventsMtimeMs?: unknown; history?: HistoryEvents } & Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(join(store.dir(runId), SUMMARY_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (doc?.format !== FORMAT || doc.eventsBytes !== key.eventsBytes || doc.eventsMtimeMs !== key.eventsMtimeMs || typeof doc.history !== 'object' || doc.history === null) return undefined;
  const h = doc.history;
  // Checked as the wire checks a history message: a damaged or hand-edited file is rebuilt, never sent.
  const checked = validateServerMessage({ type: 'history', runId, config: store.readRecord(runId).config, state: h.state, metrics: h.metrics, evals: h.evals, applied: h.applied, stepHistograms: h.stepHistograms, plans: h.plans });
  if (!checked.ok) return undefined;
  if (h.step !== undefined && !Number.isInteger(h.step)) return undefined;
  if (h.reason !== undefined && typeof h.reason !== 'string') return undefined;
  return { state: h.state, metrics: h.metrics, evals: h.evals, applied: h.applied, stepHistograms: h.stepHistograms, plans: h.plans, ...(h.step !== undefined ? { step: h.step } : {}), ...(h.reason !== undefined ? { reason: h.reason } : {}) };
}

function writeCached(store: RunStore, runId: string, key: Key, h: RunHistory): void {
  const history: HistoryEvents = { state: h.state, metrics: h.metrics, evals: h.evals, applied: h.applied, stepHistograms: h.stepHistograms, plans: h.plans, ...(h.step !== undefined ? { step: h.step } : {}), ...(h.reason !== undefined ? { reason: h.reason } : {}) };
  try {
    writeFileAtomic(join(store.dir(runId), SUMMARY_FILE), JSON.stringify({ format: FORMAT, ...key, history }));
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
