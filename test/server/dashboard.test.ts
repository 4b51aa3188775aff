// `train --dashboard`: the command's own run, served to the dashboard by the same server as `serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDashboard } from '../../sidecar/commands/dashboardHook';
import { resolveConfig } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { Run } from '../../sidecar/trainer';
import { tempDir } from '../store/helpers';
import { ensureBuilt, rawRequest, TestClient } from './sidecar';

test('the dashboard shows the command-line run live and takes its edits', async () => {
  ensureBuilt();
  process.env.BROWSER = 'none'; // no browser window from a test
  const runsDir = tempDir();
  const cacheDir = tempDir();
  const store = new RunStore(runsDir);
  const config = resolveConfig({ data: 'sample', workers: 1, epochs: 100 }, 1);
  store.createRun('cli-run', config);
  const run = new Run({ runId: 'cli-run', config, store, cacheDir });
  const dashboard = await startDashboard({ run, runsDir, cacheDir, notice: () => undefined });
  try {
    const url = new URL(dashboard.url);
    assert.equal(url.hostname, '127.0.0.1');
    const page = await rawRequest(Number(url.port), `/${url.search}`, { Host: url.host });
    assert.equal(page.status, 302);
    const finished = run.start();
    const c = await TestClient.connect(`ws://${url.host}/${url.search}`);
    const hello = await c.next('hello');
    assert.ok(hello.runs.some((r) => r.runId === 'cli-run'));
    c.send({ type: 'subscribe', runId: 'cli-run' });
    await c.next('history');
    await c.next('metrics', () => true, 30_000);
    c.send({ type: 'update', runId: 'cli-run', batchSize: 8, requestId: 'bs' });
    const applied = await c.next('applied', (m) => m.requestId === 'bs');
    assert.deepEqual(applied.changes, { batchSize: { from: 4, to: 8 } });
    c.send({ type: 'stop', runId: 'cli-run' });
    await c.next('state', (m) => m.state === 'stopped', 30_000);
    await finished;
    await c.close();
  } finally {
    await dashboard.close();
  }
});
