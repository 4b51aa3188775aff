// A real `adam-trainer serve` process trains a run and sends its step histograms: live while it trains, the last
// one of the final step equal to the histograms of the state its final checkpoint holds, and all of them (merged)
// in the history a later subscriber gets, so an opened finished run shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { compileKernels, instantiateKernels } from '../../sidecar/kernels/loader';
import { WasmStepHistograms } from '../../sidecar/kernels/stepHistograms';
import { SharedArena } from '../../sidecar/parallel/arena';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { startSidecar, TestClient } from './sidecar';

for (const optimizer of ['amsgrad', 'sgd'] as const) {
  test(`a ${optimizer} run in a real sidecar sends step histograms live, ends with its final state's and keeps them in its history`, { timeout: 180_000 }, async () => {
    const sidecar = await startSidecar();
    try {
      const c = await TestClient.connect(sidecar.url);
      await c.next('hello');
      c.send({ type: 'start', config: { data: 'sample', workers: 1, optimizer, epochs: 2, maxSteps: 1200, learningRate: 3e-3 }, requestId: 's' });
      const { runId } = await c.next('started', (m) => m.requestId === 's', 60_000);
      await c.next('state', (m) => m.runId === runId && m.state === 'done', 150_000);
      const live = c.all('stepHistogram').filter((m) => m.runId === runId);
      assert.ok(live.length >= 2, `${live.length} live histograms`);
      for (let i = 1; i < live.length; i++) assert.ok(live[i].step > live[i - 1].step, 'in step order, one per step');
      for (const m of live) {
        const counted = Object.values(m.layers).reduce((n, l) => n + l.updateRatio.reduce((a, b) => a + b, 0), 0);
        assert.equal(counted, PARAMETER_COUNT, 'every parameter in one bin');
        assert.equal(Object.values(m.layers).some((l) => l.effectiveStep !== undefined), optimizer !== 'sgd', 'SGD has no effective-step histogram');
      }

      const last = live[live.length - 1];
      const state = readCheckpoint(join(sidecar.runsDir, runId, 'latest.ckpt'));
      assert.equal(last.step, state.step, 'the last histogram is of the final step');
      // The same kernel on the state the final checkpoint holds (the float32 path, whose agreement with the float64
      // definition test/optim/stepHistogram.test.ts checks): the same counts, exactly.
      const arena = new SharedArena();
      const copy = { params: arena.allocF32(PARAMETER_COUNT).view, m: arena.allocF32(PARAMETER_COUNT).view, v: arena.allocF32(PARAMETER_COUNT).view, vMax: arena.allocF32(PARAMETER_COUNT).view };
      for (const k of ['params', 'm', 'v', 'vMax'] as const) copy[k].set(state[k]);
      const want = new WasmStepHistograms(instantiateKernels(compileKernels(false), arena.memory), arena).compute(copy, state.step, state.config)!;
      for (const [layer, counts] of Object.entries(want)) {
        assert.deepEqual(last.layers[layer].updateRatio, Array.from(counts.updateRatio), `${layer} update ratio`);
        if (counts.effectiveStep) assert.deepEqual(last.layers[layer].effectiveStep, Array.from(counts.effectiveStep), `${layer} effective step`);
      }

      const later = await TestClient.connect(sidecar.url);
      await later.next('hello');
      later.send({ type: 'subscribe', runId });
      const history = await later.next('history', (m) => m.runId === runId);
      const recorded = history.stepHistograms ?? [];
      assert.ok(recorded.length >= 1);
      assert.equal(recorded.reduce((n, m) => n + m.columns, 0), live.length, 'every live histogram is in the history, merged or not');
      assert.equal(recorded[recorded.length - 1].step, last.step);
      assert.equal(recorded[0].fromStep, live[0].step);
      await later.close();
      await c.close();
    } finally {
      await sidecar.kill();
    }
  });
}
