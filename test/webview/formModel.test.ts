import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedFields, parseField, readForm } from '../../webview/formModel';
import { resolveConfig } from '../../sidecar/protocol';

test('beta1 1.5 is refused with the protocol\'s sentence', () => {
  assert.deepEqual(parseField('beta1', '1.5'), { ok: false, error: 'beta1 must be in [0, 1), got 1.5' });
});

test('an empty field is refused rather than read as 0', () => {
  const r = parseField('learningRate', '  ');
  assert.equal(r.ok, false);
});

test('text that is not a plain number is refused, hex included', () => {
  assert.equal(parseField('batchSize', '0x10').ok, false);
  assert.equal(parseField('learningRate', 'abc').ok, false);
  assert.equal(parseField('learningRate', 'Infinity').ok, false);
});

test('exponent notation is accepted', () => {
  assert.deepEqual(parseField('epsilon', '1e-6'), { ok: true, value: 1e-6 });
});

test('a fractional batch size is refused', () => {
  assert.equal(parseField('batchSize', '4.5').ok, false);
});

test('only the fields that differ from the run are sent', () => {
  const config = resolveConfig({}, 2);
  const form = readForm({ learningRate: '0.003', beta1: '0.9', beta2: '0.999', epsilon: '1e-8', weightDecay: '0', momentum: '0.9', alpha: '0.99', batchSize: '4' });
  assert.deepEqual(form.errors, {});
  assert.deepEqual(changedFields(form.values, config), { learningRate: 0.003 });
});
