// The page's own number and id formatting (webview/text.ts) against what the browser's ICU would give, on values
// drawn at random: Node's toLocaleString and localeCompare are the peer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRunId } from '../../sidecar/store/paths';
import { compareText, thousands } from '../../webview/text';
import { Rng } from '../../sidecar/rng';

test('thousands writes any safe integer as en-US does, and rounds a fraction first (2,000 drawn at random)', () => {
  const rng = new Rng(20261203);
  for (let i = 0; i < 2000; i++) {
    const digits = 1 + rng.nextInt(16);
    const n = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(rng.uniform(0, 1) * 10 ** digits)) * (rng.nextInt(2) === 0 ? 1 : -1) || 0; // no -0: en-US writes "-0", a count is "0"
    assert.equal(thousands(n), n.toLocaleString('en-US'), String(n));
    const x = n + rng.uniform(-0.49, 0.49);
    if (Number.isSafeInteger(Math.round(x))) assert.equal(thousands(x), (Math.round(x) || 0).toLocaleString('en-US'), String(x));
  }
  assert.equal(thousands(0), '0');
  assert.equal(thousands(-0.2), '0');
  assert.equal(thousands(999), '999');
  assert.equal(thousands(1000), '1,000');
  assert.equal(thousands(Number.NaN), 'NaN');
  assert.equal(thousands(1e21), '1e+21');
});

test('compareText orders generated run ids and ISO dates as localeCompare does (500 lists drawn at random)', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 500; i++) {
    const dates = Array.from({ length: 8 }, () => new Date(Date.UTC(2000 + rng.nextInt(60), rng.nextInt(12), 1 + rng.nextInt(28), rng.nextInt(24), rng.nextInt(60), rng.nextInt(60), rng.nextInt(1000))));
    const texts = [...dates.map((d) => d.toISOString()), ...dates.map((d) => newRunId(d))];
    assert.deepEqual([...texts].sort(compareText), [...texts].sort((a, b) => a.localeCompare(b)));
  }
});
