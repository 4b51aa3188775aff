import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupCurve, stepGrid, valueAt } from '../../webview/groupSeries';

const a = [{ x: 10, y: 2 }, { x: 30, y: 1 }];
const b = [{ x: 20, y: 3 }, { x: 40, y: 1 }];

test('the grid spans every series, in whole steps', () => {
  assert.deepEqual(stepGrid([a, b], 4), [10, 20, 30, 40]);
  assert.deepEqual(stepGrid([[], []]), []);
});

test('a run is read between its points, and not outside the steps it covered', () => {
  assert.equal(valueAt(a, 20), 1.5);
  assert.equal(valueAt(a, 10), 2);
  assert.equal(valueAt(a, 9), undefined);
  assert.equal(valueAt(a, 31), undefined);
  assert.equal(valueAt([{ x: 1, y: NaN }, { x: 2, y: 1 }], 1), undefined);
});

test('min-max band: the mean of the runs that cover a step, between the lowest and the highest', () => {
  const c = groupCurve([a, b], [10, 20, 30, 40], 'minmax');
  assert.deepEqual(c.mean, [{ x: 10, y: 2 }, { x: 20, y: 2.25 }, { x: 30, y: 1.5 }, { x: 40, y: 1 }]);
  assert.deepEqual(c.lower.map((p) => p.y), [2, 1.5, 1, 1]);
  assert.deepEqual(c.upper.map((p) => p.y), [2, 3, 2, 1]);
});

test('std band: the mean -+ the sample standard deviation, no width where one run covers the step', () => {
  const c = groupCurve([a, b], [10, 20], 'std');
  const std = Math.sqrt(((1.5 - 2.25) ** 2 + (3 - 2.25) ** 2) / 1);
  assert.deepEqual(c.lower.map((p) => p.y), [2, 2.25 - std]);
  assert.deepEqual(c.upper.map((p) => p.y), [2, 2.25 + std]);
});
