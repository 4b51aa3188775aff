import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameThrottle } from '../../webview/throttle';

test('a burst of requests draws once, then at most once per interval', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let draws = 0;
  const throttle = new FrameThrottle(() => draws++, 100, () => Date.now());
  for (let i = 0; i < 50; i++) throttle.request();
  t.mock.timers.tick(0);
  assert.equal(draws, 1);
  for (let i = 0; i < 50; i++) throttle.request();
  t.mock.timers.tick(50);
  assert.equal(draws, 1);
  t.mock.timers.tick(50);
  assert.equal(draws, 2);
});

test('cancel drops a pending draw', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let draws = 0;
  const throttle = new FrameThrottle(() => draws++, 100, () => Date.now());
  throttle.request();
  throttle.cancel();
  t.mock.timers.tick(1000);
  assert.equal(draws, 0);
});
