// Runs over the wire with the real trainer on the shipped sample dataset (data/sample.tar.gz).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RunSummary } from '../../sidecar/protocol';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { delay, ROOT, startSidecar, TestClient, unrefDelay, type Sidecar } from './sidecar';

const quick = { data: 'sample', workers: 1, logEvery: 50 } as const;

describe('training over the WebSocket', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('a started run streams metrics, an eval and ends done', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { ...quick, maxSteps: 300 }, requestId: 'go' });
    const started = await c.next('started');
    assert.equal(started.requestId, 'go');
    assert.equal(started.config.maxSteps, 300);
    assert.equal(started.config.optimizer, 'adam');
    assert.equal(started.config.learningRate, 1e-3);
    const done = await c.next('state', (m) => m.state === 'done', 60_000);
    assert.equal(done.runId, started.runId);
    const metrics = c.all('metrics');
    assert.ok(metrics.length >= 1);
    assert.equal(metrics[metrics.length - 1].step, 300);
    for (const m of metrics) assert.ok(Number.isFinite(m.loss) && m.lossMin <= m.loss && m.loss <= m.lossMax);
    const evals = c.all('eval');
    assert.equal(evals[evals.length - 1].step, 300);
    assert.ok(existsSync(join(s.runsDir, started.runId, 'latest.ckpt')));
    c.send({ type: 'list', requestId: 'l' });
    const runs = await c.next('runs', (m) => m.requestId === 'l');
    const mine = runs.runs.find((r) => r.runId === started.runId)!;
    assert.equal(mine.state, 'done');
    assert.equal(mine.step, 300);
    await c.close();
  });

  test('a run takes live edits, pauses, resumes, checkpoints, forks and stops', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { ...quick, epochs: 100 } });
    const { runId, config } = await c.next('started');
    const first = await c.next('metrics', (m) => m.runId === runId, 30_000);
    // Every metrics message says how many threads train now: 1 up to the run's workers (the engine's governor).
    assert.ok(first.threads !== undefined && first.threads >= 1 && first.threads <= config.workers, `threads ${first.threads} of ${config.workers}`);

    c.send({ type: 'update', runId, learningRate: 5e-4, requestId: 'lr' });
    const applied = await c.next('applied', (m) => m.requestId === 'lr');
    assert.deepEqual(applied.changes, { learningRate: { from: 1e-3, to: 5e-4 } });
    const after = await c.next('metrics', (m) => m.step > applied.step);
    assert.equal(after.learningRate, 5e-4);

    c.send({ type: 'pause', runId });
    const paused = await c.next('state', (m) => m.state === 'paused');
    await delay(300);
    const countWhilePaused = c.all('metrics').length;
    await delay(300);
    assert.equal(c.all('metrics').length, countWhilePaused, 'no metrics while paused');
    c.send({ type: 'resume', runId });
    await c.next('state', (m) => m.state === 'running');
    const resumed = await c.next('metrics');
    assert.ok(resumed.step > paused.step!);

    c.send({ type: 'checkpoint', runId, requestId: 'ck' });
    const ck = await c.next('checkpointed', (m) => m.requestId === 'ck');
    assert.ok(existsSync(ck.path));
    assert.match(ck.path, new RegExp(`${runId}[/\\\\]step-${ck.step}\\.ckpt$`));

    // A second client sees the history so far, then live messages.
    const late = await TestClient.connect(s.url);
    const hello = await late.next('hello');
    assert.equal(hello.runs.find((r) => r.runId === runId)?.state, 'running');
    late.send({ type: 'subscribe', runId, requestId: 'sub' });
    const history = await late.next('history');
    assert.equal(history.requestId, 'sub');
    assert.equal(history.state, 'running');
    assert.ok(history.metrics.step.length >= 2);
    assert.equal(history.applied[0].changes.learningRate.to, 5e-4);
    const live = await late.next('metrics');
    assert.ok(live.step > history.metrics.step.at(-1)!);

    c.send({ type: 'fork', runId, step: ck.step, changes: { learningRate: 1e-4 }, requestId: 'fork' });
    const fork = await c.next('started', (m) => m.requestId === 'fork');
    assert.equal(fork.parentRunId, runId);
    assert.equal(fork.forkStep, ck.step);
    assert.notEqual(fork.runId, runId);
    const forkApplied = await c.next('applied', (m) => m.runId === fork.runId);
    assert.deepEqual(forkApplied.changes, { learningRate: { from: 5e-4, to: 1e-4 } });
    const forkMetrics = await c.next('metrics', (m) => m.runId === fork.runId);
    assert.ok(forkMetrics.step > ck.step);

    c.send({ type: 'stop', runId });
    c.send({ type: 'stop', runId: fork.runId });
    await c.next('state', (m) => m.runId === runId && m.state === 'stopped', 30_000);
    await late.next('state', (m) => m.runId === runId && m.state === 'stopped', 30_000);
    c.send({ type: 'update', runId, learningRate: 1e-3, requestId: 'late-edit' });
    assert.equal((await c.next('error', (m) => m.requestId === 'late-edit')).code, 'unknown_run');

    c.send({ type: 'delete', runId: fork.runId, requestId: 'del' });
    const afterDelete = await c.next('runs', (m) => m.requestId === 'del');
    assert.ok(!afterDelete.runs.some((r) => r.runId === fork.runId));
    assert.ok(afterDelete.runs.some((r) => r.runId === runId && r.state === 'stopped'));
    assert.equal(existsSync(join(s.runsDir, fork.runId)), false);
    await c.close();
    await late.close();
  });
});

describe('a sidecar that ends mid-run', () => {
  test('checkpoints on SIGTERM; the next sidecar lists the run as interrupted and resumes it in place', async () => {
    const first = await startSidecar();
    const c = await TestClient.connect(first.url);
    await c.next('hello');
    c.send({ type: 'start', config: { ...quick, epochs: 100, checkpointEvery: 100_000 } });
    const { runId } = await c.next('started');
    const m = await c.next('metrics', (x) => x.step >= 200, 30_000);
    first.proc.kill('SIGTERM');
    const exit = await Promise.race([first.exited, unrefDelay(5000).then(() => null)]);
    assert.ok(exit, 'exited within 5 s');
    assert.equal(exit.code, 0, first.stderr());
    // Halted at a step boundary after its checkpoint: nothing was trained or written after it.
    const halted = readCheckpoint(join(first.runsDir, runId, 'latest.ckpt')).step;
    const lossesWritten = statSync(join(first.runsDir, runId, 'losses.f32')).size / 4;
    assert.equal(lossesWritten, halted, 'every step trained is in the checkpoint, and no step after it');
    const events = readFileSync(join(first.runsDir, runId, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(events.filter((e) => e.type === 'metrics').every((e) => e.step <= halted));

    const listed = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'bin', 'adam-trainer.js'), 'runs', '--runs-dir', first.runsDir, '--json'], { encoding: 'utf8' })) as RunSummary[];
    const interrupted = listed.find((r) => r.runId === runId)!;
    assert.equal(interrupted.state, 'running');
    assert.equal(interrupted.orphaned, true);

    const second = await startSidecar({ runsDir: first.runsDir });
    try {
      const d = await TestClient.connect(second.url);
      const hello = await d.next('hello');
      assert.equal(hello.runs.find((r) => r.runId === runId)?.orphaned, true);
      d.send({ type: 'start', config: { learningRate: 2e-4 }, resumeFrom: join(first.runsDir, runId), requestId: 'again' });
      const started = await d.next('started', (x) => x.requestId === 'again');
      assert.equal(started.runId, runId, 'resumed in place');
      const applied = await d.next('applied', (x) => x.runId === runId);
      assert.deepEqual(applied.changes, { learningRate: { from: 1e-3, to: 2e-4 } });
      const next = await d.next('metrics', (x) => x.runId === runId, 30_000);
      assert.ok(next.step > m.step, `continues after the checkpoint (step ${next.step} > ${m.step})`);
      d.send({ type: 'subscribe', runId, requestId: 'h' });
      const history = await d.next('history', (x) => x.requestId === 'h');
      const steps = history.metrics.step;
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'one history, steps increasing');
      d.send({ type: 'stop', runId });
      await d.next('state', (x) => x.state === 'stopped', 30_000);
      await d.close();
    } finally {
      await second.kill();
    }
  });
});
