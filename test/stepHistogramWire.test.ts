// The stepHistogram message on the wire: what the sidecar makes passes the protocol's schema and survives JSON
// unchanged in a few kB; a malformed one is refused with a sentence naming the field; merged columns keep every
// count, so a long run's history stays bounded without losing parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LAYER_NAMES, PARAMETER_COUNT } from '../sidecar/nn/spec';
import { stepHistograms } from '../sidecar/optim/stepHistogram';
import { parseServerMessage, validateServerMessage, type StepHistogramMessage } from '../sidecar/protocol';
import { compactColumns, mergeColumns, stepHistogramMessage } from '../sidecar/stepHistogramColumns';
import { Rng } from '../sidecar/rng';
import { fuzzOptions } from './support/fuzz';

function column(step: number, seed = step): StepHistogramMessage {
  const rng = new Rng(seed);
  const P = PARAMETER_COUNT;
  const s = { params: new Float32Array(P), m: new Float32Array(P), v: new Float32Array(P), vMax: new Float32Array(P) };
  for (let i = 0; i < P; i++) {
    s.params[i] = rng.uniform(-0.2, 0.2);
    s.m[i] = rng.uniform(-1e-3, 1e-3);
    s.v[i] = s.m[i] * s.m[i] * rng.uniform(0.5, 50);
  }
  const counts = stepHistograms(s, step, { optimizer: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, momentum: 0.9, alpha: 0.99, biasCorrection: true, nesterov: false });
  return stepHistogramMessage('run-1', step, counts!);
}

const total = (m: StepHistogramMessage, kind: 'effectiveStep' | 'updateRatio') =>
  Object.values(m.layers).reduce((n, l) => n + (l[kind] ?? []).reduce((a, b) => a + b, 0), 0);

test('a column the sidecar makes is a valid stepHistogram message, unchanged through JSON, in under 4 kB', () => {
  const msg = column(500);
  const text = JSON.stringify(msg);
  const parsed = parseServerMessage(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
  assert.deepEqual(parsed.message, msg);
  assert.ok(text.length < 4096, `${text.length} bytes`);
  assert.deepEqual(Object.keys(msg.layers), [...LAYER_NAMES]);
  assert.equal(total(msg, 'updateRatio'), PARAMETER_COUNT);
  assert.equal(total(msg, 'effectiveStep'), PARAMETER_COUNT);
});

const refusals: Array<[string, (m: StepHistogramMessage) => unknown, RegExp]> = [
  ['a count list of the wrong length', (m) => ({ ...m, layers: { ...m.layers, conv1: { ...m.layers.conv1, updateRatio: [1, 2, 3] } } }), /layers\.conv1\.updateRatio must hold 34 counts for its bins, got 3/],
  ['a negative count', (m) => ({ ...m, layers: { ...m.layers, fc1: { ...m.layers.fc1, effectiveStep: m.layers.fc1.effectiveStep!.map((x, i) => (i === 3 ? -1 : x)) } } }), /layers\.fc1\.effectiveStep\.3 must hold counts/],
  ['a fractional count', (m) => ({ ...m, layers: { ...m.layers, fc2: { ...m.layers.fc2, updateRatio: m.layers.fc2.updateRatio.map((x, i) => (i === 0 ? 0.5 : x)) } } }), /layers\.fc2\.updateRatio\.0/],
  ['fromStep after step', (m) => ({ ...m, fromStep: m.step + 1 }), /fromStep must be <= step \(500\), got 501/],
  ['bins upside down', (m) => ({ ...m, bins: { ...m.bins, updateRatio: { lo: 0, hi: -8, perDecade: 4 } } }), /bins\.updateRatio must have lo < hi/],
  ['no layers', (m) => ({ ...m, layers: {} }), /layers must hold 1\.\.16 layers/],
  ['an unknown field', (m) => ({ ...m, extra: 1 }), /unknown field extra/],
  ['step 0', (m) => ({ ...m, step: 0, fromStep: 0 }), /step must be >= 1/],
];
for (const [what, mutate, message] of refusals) {
  test(`a stepHistogram with ${what} is refused, naming the field`, () => {
    const r = validateServerMessage(mutate(column(500)));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, message);
  });
}

test('merging columns sums every count and spans their steps; compacting bounds a long run, in step order', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 60 }), (length, max) => {
      const base = column(7);
      const list = Array.from({ length }, (_, i) => ({ ...base, step: 10 * (i + 1), fromStep: 10 * (i + 1) }));
      const out = compactColumns(list, max);
      assert.ok(out.length <= Math.max(max, 1) && out.length >= Math.min(length, Math.ceil(max / 2)), `${length} -> ${out.length} (max ${max})`);
      assert.equal(out.reduce((n, c) => n + c.columns, 0), length);
      assert.equal(out.reduce((n, c) => n + total(c, 'updateRatio'), 0), length * PARAMETER_COUNT);
      for (let i = 1; i < out.length; i++) assert.ok(out[i].fromStep > out[i - 1].step);
      assert.equal(out[0].fromStep, 10);
      assert.equal(out[out.length - 1].step, 10 * length);
      for (const c of out) assert.ok(validateServerMessage(c).ok);
    }),
    fuzzOptions(40),
  );
  const a = column(100), b = column(200, 3);
  const merged = mergeColumns(a, b)!;
  assert.deepEqual(merged.layers.conv2.updateRatio, a.layers.conv2.updateRatio.map((x, i) => x + b.layers.conv2.updateRatio[i]));
  assert.equal(mergeColumns(a, { ...b, bins: { ...b.bins, updateRatio: { lo: -9, hi: 0, perDecade: 4 } } }), null, 'columns of other bins are not summed');
});
