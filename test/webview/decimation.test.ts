// The charts rely on chart.js's own decimation plugin to draw long runs; these tests pin what we rely on:
// with our data shape ({x, y} points, parsing off, linear x) it keeps every bucket's min and max, so a
// loss spike survives, and it decimates the smoothed series we computed over the full data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decimation } from 'chart.js';
import { MIN_MAX_DECIMATION, smooth, type XY } from '../../webview/series';

/** The part of a chart.js Chart the plugin reads, for one line dataset on a linear x axis of `width` pixels. */
function fakeChart(data: XY[], width: number) {
  const dataset: { data: XY[] } = { data };
  return {
    dataset,
    chart: {
      width,
      data: { datasets: [dataset] },
      options: { parsing: false, indexAxis: 'x' },
      scales: { x: { type: 'linear' } },
      getDatasetMeta: () => ({ controller: { supportsDecimation: true }, xAxisID: 'x', iScale: { axis: 'x', getUserBounds: () => ({ minDefined: false, maxDefined: false }) } }),
    },
  };
}

function decimate(data: XY[], width: number): XY[] {
  const { chart, dataset } = fakeChart(data, width);
  (Decimation as unknown as { beforeElementsUpdate: (c: unknown, a: unknown, o: unknown) => void }).beforeElementsUpdate(chart, {}, MIN_MAX_DECIMATION);
  return dataset.data;
}

const noisy = (n: number): XY[] => Array.from({ length: n }, (_, i) => ({ x: i * 10, y: 2 - i / n + 0.05 * Math.sin(i) }));

test('a long loss series is drawn with far fewer points', () => {
  const drawn = decimate(noisy(100_000), 400);
  assert.ok(drawn.length < 5_000, `${drawn.length} points drawn`);
});

test('min-max decimation keeps a one-step loss spike and the lowest loss', () => {
  const data = noisy(100_000);
  data[54_321] = { x: data[54_321].x, y: 9.5 };
  const lowest = Math.min(...data.map((p) => p.y));
  const drawn = decimate(data, 400);
  assert.ok(drawn.some((p) => p.y === 9.5), 'the spike was dropped');
  assert.ok(drawn.some((p) => p.y === lowest), 'the minimum was dropped');
});

test('the smoothed series is computed over every point, then decimated like the raw one', () => {
  const data = noisy(50_000);
  const smoothed = smooth(data, 0.9);
  const drawn = decimate(smoothed, 400);
  assert.ok(drawn.length < smoothed.length);
  const ys = new Set(smoothed.map((q) => q.y));
  for (const p of drawn) assert.ok(ys.has(p.y), 'a decimated point carries a value of the full smoothed series');
});

test('a short series is drawn as it is', () => {
  const data = noisy(300);
  assert.equal(decimate(data, 400), data);
});
