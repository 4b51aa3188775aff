import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrawScheduler, type SchedulerEnv } from '../../webview/drawScheduler';

/** A clock, timers and a page whose visibility the test sets; frames run at once. */
function fakePage() {
  let now = 0;
  let hidden = false;
  let paintMs = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  const visibility: (() => void)[] = [];
  let nextId = 1;
  const env: SchedulerEnv = {
    now: () => now,
    setTimeout: (fn, ms) => { const id = nextId++; timers.push({ at: now + ms, fn, id }); return id; },
    clearTimeout: (id) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
    frame: (fn) => fn(),
    afterFrame: (fn) => { now += paintMs; fn(); },
    hidden: () => hidden,
    onVisibilityChange: (fn) => visibility.push(fn),
  };
  return {
    env,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers.shift();
        now = Math.max(now, t.at);
        t.fn();
      }
      now = end;
    },
    spend(ms: number) { now += ms; },
    /** What the browser spends painting each frame after the draw's JavaScript. */
    setPaint(ms: number) { paintMs = ms; },
    setHidden(h: boolean) { hidden = h; for (const fn of visibility) fn(); },
  };
}

test('a burst of requests draws once, then at most once per interval', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => draws++, { minIntervalMs: 200, maxIntervalMs: 2000, budget: 0.04 }, page.env);
  for (let i = 0; i < 50; i++) s.request();
  page.advance(0);
  assert.equal(draws, 1);
  for (let i = 0; i < 50; i++) s.request();
  page.advance(199);
  assert.equal(draws, 1);
  page.advance(1);
  assert.equal(draws, 2);
  page.advance(10_000);
  assert.equal(draws, 2, 'nothing new asked, nothing drawn');
});

test('the interval follows the cost of a draw: drawing takes at most the budget of a core', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => { draws++; page.spend(20); }, { minIntervalMs: 100, maxIntervalMs: 5000, budget: 0.05 }, page.env);
  s.request();
  page.advance(0);
  assert.equal(s.intervalMs, 400, '20 ms a draw at 5% of a core: one draw every 400 ms');
  // Requests all along for 10 s: the draws take 20 ms each, at most 5% of the time.
  for (let t = 0; t < 10_000; t += 50) { s.request(); page.advance(50); }
  assert.ok(draws >= 24 && draws <= 27, `${draws} draws in 10 s`);
  assert.ok((draws * 20) / 10_000 <= 0.055);
});

test('a frame costs its paint too: the budget counts from the draw to the end of the paint', () => {
  const page = fakePage();
  page.setPaint(30);
  const frames: [number, number][] = [];
  let draws = 0;
  const s = new DrawScheduler(() => { draws++; page.spend(10); }, { minIntervalMs: 100, maxIntervalMs: 5000, budget: 0.05 }, page.env, (a, b) => frames.push([a, b]));
  s.request();
  page.advance(0);
  assert.deepEqual(frames, [[0, 40]], 'the frame is reported from its start to the end of its paint');
  assert.equal(s.intervalMs, 800, '10 ms of JavaScript and 30 of paint at 5% of a core: one frame every 800 ms');
  for (let t = 0; t < 10_000; t += 50) { s.request(); page.advance(50); }
  assert.ok(draws >= 11 && draws <= 14, `${draws} draws in 10 s`);
  assert.ok((draws * 40) / 10_000 <= 0.055, 'draw and paint together stay within the budget');
});

test('the interval is bounded: a very slow draw still draws every maxIntervalMs, a free one at most every minIntervalMs', () => {
  const page = fakePage();
  const slow = new DrawScheduler(() => page.spend(500), { minIntervalMs: 100, maxIntervalMs: 2000, budget: 0.05 }, page.env);
  slow.request();
  page.advance(0);
  assert.equal(slow.intervalMs, 2000);
  const free = new DrawScheduler(() => undefined, { minIntervalMs: 100, maxIntervalMs: 2000, budget: 0.05 }, page.env);
  free.request();
  page.advance(0);
  assert.equal(free.intervalMs, 100);
});

test('a hidden page draws nothing, and draws once when shown again', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => draws++, { minIntervalMs: 200, maxIntervalMs: 2000, budget: 0.04 }, page.env);
  page.setHidden(true);
  for (let t = 0; t < 5000; t += 50) { s.request(); page.advance(50); }
  assert.equal(draws, 0);
  page.setHidden(false);
  page.advance(0);
  assert.equal(draws, 1);
  page.setHidden(true);
  page.setHidden(false);
  page.advance(1000);
  assert.equal(draws, 1, 'shown again with nothing new: no draw');
});

test('a draw that was due when the page hid waits for it to be shown', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => draws++, { minIntervalMs: 200, maxIntervalMs: 2000, budget: 0.04 }, page.env);
  s.request();
  page.advance(0);
  s.request(); // due in 200 ms
  page.setHidden(true);
  page.advance(1000);
  assert.equal(draws, 1);
  page.setHidden(false);
  page.advance(200);
  assert.equal(draws, 2);
});

test('cancel drops a pending draw', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => draws++, undefined, page.env);
  s.request();
  s.cancel();
  page.advance(1000);
  assert.equal(draws, 0);
});

test('a request the user waits for (a run they opened has arrived) draws at the next frame, whatever the interval', () => {
  const page = fakePage();
  let draws = 0;
  const s = new DrawScheduler(() => { draws++; page.spend(40); }, { minIntervalMs: 200, maxIntervalMs: 2000, budget: 0.04 }, page.env);
  s.request();
  page.advance(0);
  assert.equal(draws, 1);
  assert.equal(s.intervalMs, 1000);
  s.request(); // an ordinary update waits for the interval
  page.advance(10);
  assert.equal(draws, 1);
  s.request(true);
  page.advance(0);
  assert.equal(draws, 2, 'drawn at once');
  page.advance(5000);
  assert.equal(draws, 2, 'the ordinary request was drawn with it, not again');
  page.setHidden(true);
  s.request(true);
  page.advance(1000);
  assert.equal(draws, 2, 'a hidden page draws nothing, even when asked soon');
});

test('the interval is told after the first frame, then only when it has moved by more than a fifth', () => {
  const page = fakePage();
  const told: number[] = [];
  let cost = 20;
  const s = new DrawScheduler(() => page.spend(cost), { minIntervalMs: 100, maxIntervalMs: 5000, budget: 0.05 }, page.env, undefined, (ms) => told.push(ms));
  assert.deepEqual(told, [], 'nothing before a frame has been timed');
  s.request();
  page.advance(0);
  assert.deepEqual(told, [400], '20 ms at 5% of a core');
  cost = 22; // mean 21 ms: 420 ms, within a fifth of 400
  s.request();
  page.advance(1000);
  assert.deepEqual(told, [400]);
  cost = 62; // mean 34.7 ms: 693 ms
  s.request();
  page.advance(1000);
  assert.equal(told.length, 2);
  assert.ok(Math.abs(told[1] - 2080 / 3) < 1e-9, `told ${told[1]}`);
  for (let i = 0; i < 8; i++) { cost = 1; s.request(); page.advance(1000); } // cheap frames: down to the minimum
  assert.equal(told.at(-1), 100);
  assert.ok(told.every((ms, i) => i === 0 || Math.abs(ms - told[i - 1]) > told[i - 1] / 5), `each told value moved by more than a fifth: ${told.join(', ')}`);
});
