// A comparison over seeds (DESIGN.md `adam-trainer compare`): every (optimizer, seed) pair of the seed's
// experiment, trained as many at a time as the cores allow without slowing each other. Each run gets a
// fraction of the cores (one worker thread by default) and runs beside the others, rather than one after
// another with every core: at batch 4 the barriers between workers cost much of what a second worker gives (2
// workers were 1.56x one worker, BENCHMARKS.md), and runs side by side share no barrier. Shared by the command
// line and the sidecar.
import { availableParallelism } from 'node:os';
import { newRunId } from './store/paths';
import type { ComparedOptimizer, RunGroup } from './protocol';

export interface ComparisonJob {
  optimizer: ComparedOptimizer;
  seed: number;
}

/** Seed by seed, each seed's optimizers side by side, so that paired results arrive together. */
export function comparisonJobs(optimizers: readonly ComparedOptimizer[], seeds: readonly number[]): ComparisonJob[] {
  return seeds.flatMap((seed) => optimizers.map((optimizer) => ({ optimizer, seed })));
}

/** How many runs train at once: one per `workersPerRun` cores, at least one. */
export function concurrentRuns(workersPerRun: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workersPerRun)));
}

/** A new group for the runs folder; its id sorts by creation time like a run id. */
export function newGroup(optimizers: readonly ComparedOptimizer[], seeds: readonly number[]): RunGroup {
  return { id: `compare-${newRunId()}`, optimizers: [...optimizers], seeds: [...seeds] };
}

export interface StartedJob<T> {
  /** Settles once the run has its data in memory (or has failed): the next runs may start then. */
  ready: Promise<unknown>;
  done: Promise<T>;
}

/**
 * Runs `jobs` `concurrency` at a time, in order. The first runs alone until it has its data, so a download
 * or the decoding of an image folder into the cache happens once, not in every run at the same time.
 * `proceed()` false (Ctrl-C, a shutdown) starts no further job; those running finish as their owner says.
 * Resolves with each job's outcome in job order; a job that rejects is recorded as its error.
 */
export async function runJobs<T>(
  jobs: readonly ComparisonJob[],
  concurrency: number,
  start: (job: ComparisonJob, index: number) => StartedJob<T>,
  proceed: () => boolean = () => true,
): Promise<Array<{ job: ComparisonJob; value?: T; error?: unknown } | undefined>> {
  const outcomes: Array<{ job: ComparisonJob; value?: T; error?: unknown } | undefined> = new Array(jobs.length).fill(undefined);
  let next = 0;
  const launch = (): StartedJob<void> | null => {
    if (next >= jobs.length || !proceed()) return null;
    const index = next++;
    const job = jobs[index];
    const started = start(job, index);
    const done = started.done.then(
      (value) => { outcomes[index] = { job, value }; },
      (error: unknown) => { outcomes[index] = { job, error }; },
    );
    return { ready: started.ready.catch(() => undefined), done };
  };
  const lane = async (first: StartedJob<void> | null): Promise<void> => {
    for (let current = first; current; current = launch()) await current.done;
  };
  const first = launch();
  if (!first) return outcomes;
  await first.ready;
  const lanes = [lane(first)];
  for (let i = 1; i < concurrency; i++) lanes.push(lane(launch()));
  await Promise.all(lanes);
  return outcomes;
}
