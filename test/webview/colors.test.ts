import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignRunColors, runColor, RUN_PALETTE, withAlpha } from '../../webview/colors';

test('a run keeps the same colour every time', () => {
  assert.equal(runColor('20250101-120000-abc'), runColor('20250101-120000-abc'));
});

test('run colours come from the palette and differ across ids', () => {
  const colours = new Set(Array.from({ length: 40 }, (_, i) => runColor(`run-${i}`)));
  for (const c of colours) assert.ok(RUN_PALETTE.includes(c));
  assert.ok(colours.size >= 5);
});

test('withAlpha turns #rrggbb into rgba', () => {
  assert.equal(withAlpha('#ff8000', 0.5), 'rgba(255, 128, 0, 0.5)');
});

test('runs drawn together never share a colour, and the open run keeps its own', () => {
  const ids = Array.from({ length: RUN_PALETTE.length }, (_, i) => `run-${i}`);
  const colors = assignRunColors(ids);
  assert.equal(new Set(colors.values()).size, RUN_PALETTE.length);
  assert.equal(colors.get('run-0'), runColor('run-0'));
  assert.deepEqual(assignRunColors(ids), colors);
});
