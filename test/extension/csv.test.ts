import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCsv } from '../../extension/csv';
import type { MetricsMessage } from '../../sidecar/protocol';

const m = (step: number, loss: number): MetricsMessage => ({ type: 'metrics', runId: 'r', step, epoch: step / 1000, samplesSeen: step * 4, loss, lossMin: loss / 2, lossMax: loss * 2, accuracy: 0.5, learningRate: 0.001, samplesPerSec: 9000, updateRatio: {} });

test('one row per logged step, with evals and changes on their steps', () => {
  const csv = runCsv({
    metrics: [m(100, 2), m(200, 1.5)],
    evals: [{ type: 'eval', runId: 'r', step: 200, epoch: 0.2, testLoss: 1.4, testAccuracy: 0.45, perClassAccuracy: Array(10).fill(0), confusion: [] as unknown as number[][] }],
    applied: [{ type: 'applied', runId: 'r', step: 150, changes: { learningRate: { from: 0.001, to: 0.003 } } }],
  });
  assert.equal(
    csv,
    [
      'step,epoch,samplesSeen,loss,lossMin,lossMax,accuracy,learningRate,samplesPerSec,testLoss,testAccuracy,changes',
      '100,0.1,400,2,1,4,0.5,0.001,9000,,,',
      '150,,,,,,,,,,,learningRate 0.001->0.003',
      '200,0.2,800,1.5,0.75,3,0.5,0.001,9000,1.4,0.45,',
      '',
    ].join('\n'),
  );
});

test('a diverged (NaN) loss is an empty cell, not the text NaN', () => {
  assert.match(runCsv({ metrics: [m(100, NaN)], evals: [], applied: [] }), /\n100,0\.1,400,,,,0\.5,/);
});
