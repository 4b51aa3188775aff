// How a comparison schedules its runs: seed by seed, as many at a time as asked, the first alone until it has
// its data, and no new run once told to stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparisonJobs, concurrentRuns, runJobs, type ComparisonJob } from '../../sidecar/comparison';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('jobs go seed by seed, each seed with every optimizer', () => {
  assert.deepEqual(comparisonJobs(['adam', 'sgd'], [3, 1]).map((j) => `${j.optimizer}${j.seed}`), ['adam3', 'sgd3', 'adam1', 'sgd1']);
});

test('runs at a time: one per worker-share of the cores, at least one', () => {
  assert.equal(concurrentRuns(1, 2), 2);
  assert.equal(concurrentRuns(2, 2), 1);
  assert.equal(concurrentRuns(3, 2), 1);
  assert.equal(concurrentRuns(2, 8), 4);
});

test('no more than `concurrency` jobs run at once, and the first runs alone until it is ready', async () => {
  const jobs = comparisonJobs(['adam', 'sgd'], [1, 2, 3]);
  let running = 0;
  let most = 0;
  const events: string[] = [];
  let readyFirst!: () => void;
  const outcomes = await runJobs(jobs, 2, (job: ComparisonJob, index) => {
    running++;
    most = Math.max(most, running);
    events.push(`start ${index}`);
    const ready = index === 0 ? new Promise<void>((r) => (readyFirst = r)) : Promise.resolve();
    if (index === 0) setTimeout(() => { events.push('ready 0'); readyFirst(); }, 20);
    const done = (async () => {
      await ready;
      for (let i = 0; i < 3 + index; i++) await tick();
      running--;
      if (index === 4) throw new Error('diverged');
      return job.seed * 10;
    })();
    return { ready, done };
  });
  assert.equal(most, 2);
  assert.deepEqual(events.slice(0, 3), ['start 0', 'ready 0', 'start 1']);
  assert.deepEqual(outcomes.map((o) => o?.value), [10, 10, 20, 20, undefined, 30]);
  assert.equal((outcomes[4]?.error as Error).message, 'diverged');
});

test('once proceed() says no, no further job starts and the running ones finish', async () => {
  const jobs = comparisonJobs(['adam'], [1, 2, 3, 4]);
  let stop = false;
  const started: number[] = [];
  const outcomes = await runJobs(jobs, 2, (_job, index) => {
    started.push(index);
    if (index === 1) stop = true;
    return { ready: Promise.resolve(), done: tick().then(() => index) };
  }, () => !stop);
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(outcomes.map((o) => o?.value), [0, 1, undefined, undefined]);
});
