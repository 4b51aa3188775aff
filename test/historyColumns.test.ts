// A history's metrics on the wire (protocol.ts metricsColumnsSchema): the sidecar sends the lines as columns, which a
// page checks several times faster than the same lines as objects, and the lines come back from them unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { metricsColumns, metricsLines, parseServerMessage, resolveConfig, type MetricsMessage, type ServerMessage } from '../sidecar/protocol';
import { fuzzOptions } from './support/fuzz';

const config = resolveConfig({ data: 'sample' }, 2);
const LAYERS = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
const value = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
const optimizer = fc.record({
  step: fc.nat(),
  learningRate: value, beta1: value, beta2: value, epsilon: value, biasCorrection1: value, biasCorrection2: value,
  layers: fc.dictionary(fc.constantFrom(...LAYERS), fc.record({ mHatRms: value, sqrtVHatRms: value, stepRms: value })),
});

/** Lines as the run store's summary holds them: steps increasing, layers that may differ between lines, optimizer
 * statistics on the last line only, threads on some. */
const lines = fc
  .array(fc.record({ gap: fc.integer({ min: 1, max: 1000 }), epoch: value, samplesSeen: fc.nat(), loss: value, lossMin: value, lossMax: value, accuracy: value, learningRate: value, samplesPerSec: value, updateRatio: fc.dictionary(fc.constantFrom(...LAYERS), value), threads: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }) }), { maxLength: 40 })
  .chain((raw) => fc.option(optimizer, { nil: undefined }).map((last) => {
    let step = 0;
    return raw.map(({ gap, threads, ...m }, i): MetricsMessage => ({
      type: 'metrics', runId: 'run-1', step: (step += gap), ...m,
      ...(threads !== undefined ? { threads } : {}),
      ...(last !== undefined && i === raw.length - 1 ? { optimizer: last } : {}),
    }));
  }));

function history(metrics: unknown): string {
  return JSON.stringify({ type: 'history', runId: 'run-1', config, state: 'done', metrics, evals: [], applied: [] });
}

test('the lines come back from their columns unchanged, through JSON and the protocol\'s check', () => {
  fc.assert(fc.property(lines, (sent) => {
    const parsed = parseServerMessage(history(metricsColumns(sent)));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const h = parsed.message as Extract<ServerMessage, { type: 'history' }>;
    assert.deepEqual(metricsLines('run-1', h.metrics), JSON.parse(JSON.stringify(sent)), 'as the lines themselves would have come through JSON');
  }), fuzzOptions(300));
});

test('columns of different lengths are refused with a sentence naming the column', () => {
  fc.assert(fc.property(lines.filter((l) => l.length > 0 && Object.keys(l[0].updateRatio).length > 0), fc.boolean(), (sent, inRatio) => {
    const columns = metricsColumns(sent) as unknown as Record<string, unknown> & { updateRatio: Record<string, unknown[]> };
    const layer = Object.keys(columns.updateRatio)[0];
    if (inRatio) columns.updateRatio[layer] = [...columns.updateRatio[layer], 0.5];
    else columns.loss = (columns.loss as number[]).slice(1);
    const parsed = parseServerMessage(history(columns));
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.equal(parsed.error.code, 'bad_message');
    const named = inRatio ? `updateRatio.${layer}` : 'loss';
    assert.match(parsed.error.message, new RegExp(`${named.replace('.', '\\.')}.*must hold one value per line \\(${sent.length}\\), got ${inRatio ? sent.length + 1 : sent.length - 1}`));
  }), fuzzOptions(100));
});

test('a long run\'s 1,024 lines as columns take under half the bytes of the lines, and the lines\' form is refused', () => {
  const sent: MetricsMessage[] = Array.from({ length: 1024 }, (_, i) => ({
    type: 'metrics', runId: '20261201-000000-a1b2c3', step: (i + 1) * 977, epoch: i / 12.5, samplesSeen: (i + 1) * 3908, loss: 2.3 - i / 1000 + Math.sin(i) / 7,
    lossMin: 1.8 - i / 1000, lossMax: 2.8 - i / 1000, accuracy: 0.1 + i / 2000, learningRate: 1e-3, samplesPerSec: 14_000 + 3000 * Math.cos(i),
    updateRatio: Object.fromEntries(LAYERS.map((l, j) => [l, 0.2 + j / 10 + Math.sin(i + j) / 50])),
  }));
  const asLines = JSON.stringify({ type: 'history', runId: sent[0].runId, config, state: 'done', metrics: sent, evals: [], applied: [] });
  const asColumns = JSON.stringify({ type: 'history', runId: sent[0].runId, config, state: 'done', metrics: metricsColumns(sent), evals: [], applied: [] });
  assert.ok(asColumns.length < asLines.length / 2, `${asColumns.length} bytes against ${asLines.length}`);
  assert.ok(parseServerMessage(asColumns).ok);
  assert.equal(parseServerMessage(asLines).ok, false, 'the old form is refused: the page and the sidecar are of one protocol version');
});
