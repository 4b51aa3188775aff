// The gallery and classify messages over a real socket to a real `adam-trainer serve`, on the shipped sample: a live
// run's weights are read at step boundaries without changing the run (its final parameters equal, bit for bit, those
// of the same run left alone), the filters select what they say and agree with the run's own confusion matrix, and
// images from every source are classified or refused with a sentence.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { GalleryFilter, GalleryMessage, ServerMessage } from '../../sidecar/protocol';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { sampleImages } from '../support/sample';
import { delay, startSidecar, TestClient, type Sidecar } from './sidecar';

const config = { data: 'sample', workers: 1, maxSteps: 1500, seed: 7 } as const; // 1,500 steps: the sample's two epochs at batch 4

describe('predictions over the WebSocket', () => {
  let s: Sidecar;
  let c: TestClient;
  let watchedRun = '';
  before(async () => {
    s = await startSidecar();
    c = await TestClient.connect(s.url);
    await c.next('hello');
  });
  after(async () => {
    await c.close();
    await s.kill();
  });

  async function answer(requestId: string): Promise<ServerMessage> {
    let found: ServerMessage | undefined;
    await c.waitFor(() => (found = c.received.find((m) => 'requestId' in m && m.requestId === requestId)) !== undefined, 30_000);
    return found!;
  }

  async function train(watch: boolean): Promise<{ runId: string; galleries: GalleryMessage[] }> {
    c.send({ type: 'start', config, requestId: `start-${watch}` });
    const { runId } = await c.next('started', (m) => m.requestId === `start-${watch}`);
    const galleries: GalleryMessage[] = [];
    let n = 0;
    let ended = false;
    const done = c.next('state', (m) => m.runId === runId && m.state === 'done', 120_000).then(() => (ended = true));
    while (watch && !ended) {
      const id = `g${n++}`;
      c.send({ type: 'gallery', runId, filter: { wrongOnly: n % 2 === 0 }, limit: 5, requestId: id });
      c.send({ type: 'classify', runId, testIndex: n % 1000, requestId: `c${id}` });
      const [reply, classified] = [await answer(id), await answer(`c${id}`)];
      // Before its first step a run has no weights to show: it says so; afterwards every request is answered.
      if (reply.type === "error") assert.match(reply.message, /has no weights to show yet/, reply.message);
      else galleries.push(reply as GalleryMessage);
      assert.ok(classified.type === 'classified' || /has no weights to show yet/.test((classified as { message: string }).message));
      await delay(100); // a dashboard's pace, well inside the sidecar's rate limit
    }
    await done;
    return { runId, galleries };
  }

  test('a gallery asked for while a run trains reads its live weights and leaves the run bit for bit as it would have been', async () => {
    const watched = await train(true);
    const alone = await train(false);
    watchedRun = watched.runId;
    const live = watched.galleries.filter((g) => g.source === 'live');
    assert.ok(live.length >= 1, `no gallery came from the live run (${watched.galleries.length} replies)`);
    for (const g of live) {
      assert.ok(g.step >= 0 && g.step <= config.maxSteps);
      assert.equal(g.total, 1000);
    }
    const a = readCheckpoint(join(s.runsDir, watched.runId, 'latest.ckpt'));
    const b = readCheckpoint(join(s.runsDir, alone.runId, 'latest.ckpt'));
    assert.equal(a.step, config.maxSteps);
    assert.deepEqual(Buffer.from(a.params.buffer), Buffer.from(b.params.buffer));
  });

  async function gallery(filter: GalleryFilter, offset = 0, limit = 100): Promise<GalleryMessage> {
    const requestId = `q${Math.random()}`;
    c.send({ type: 'gallery', runId: watchedRun, filter, offset, limit, requestId });
    return c.next('gallery', (m) => m.requestId === requestId, 30_000);
  }

  test('the filters select what they say, page consistently, and count what the confusion matrix counts', async () => {
    assert.ok(watchedRun, 'the first test trains the run');
    const all = await gallery({});
    assert.equal(all.source, 'checkpoint');
    assert.equal(all.step, config.maxSteps);
    assert.deepEqual([all.total, all.matching, all.items.length], [1000, 1000, 100]);
    const wrong = await gallery({ wrongOnly: true });
    for (const item of wrong.items) assert.notEqual(item.top[0].class, wrong.classNames[item.label]);
    const pages = [await gallery({ wrongOnly: true }, 0, 7), await gallery({ wrongOnly: true }, 7, 7)];
    assert.deepEqual(pages.flatMap((p) => p.items.map((i) => i.index)), wrong.items.slice(0, 14).map((i) => i.index));
    const confident = await gallery({ order: 'confidentMistakes' });
    assert.equal(confident.matching, wrong.matching);
    for (let i = 1; i < confident.items.length; i++) assert.ok(confident.items[i - 1].top[0].probability >= confident.items[i].top[0].probability);
    // The run's last eval (the WebAssembly kernels) and the gallery (the reference layers) classify the same weights:
    // both engines sum in different orders, so only a near-tie could split them, and none does on these 1,000 images.
    const history = readFileSync(join(s.runsDir, watchedRun, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ServerMessage);
    const lastEval = history.filter((m): m is Extract<ServerMessage, { type: 'eval' }> => m.type === 'eval').pop()!;
    assert.equal(lastEval.step, config.maxSteps);
    assert.equal(wrong.matching, 1000 - lastEval.confusion.reduce((sum, row, t) => sum + row[t], 0));
    for (const [t, p] of [[3, 5], [5, 3], [1, 9], [0, 8]]) {
      const cell = await gallery({ trueClass: t, predictedClass: p });
      assert.equal(cell.matching, lastEval.confusion[t][p], `cell ${t},${p}`);
      for (const item of cell.items) assert.deepEqual([item.label, item.top[0].class], [t, cell.classNames[p]]);
    }
  });

  test('classify gives a test image the gallery\'s own answer, and resizes a file or dropped bytes as stated', async () => {
    const all = await gallery({}, 0, 10);
    c.send({ type: 'classify', runId: watchedRun, testIndex: all.items[3].index, requestId: 'test-image' });
    const one = await c.next('classified', (m) => m.requestId === 'test-image');
    assert.deepEqual(one.top, all.items[3].top);
    assert.equal(one.image, all.items[3].image);
    assert.equal(one.label, all.items[3].label);
    assert.equal(one.conv1.length, 450);
    assert.ok(one.conv2.some((v) => v > 0) && one.conv2.every((v) => v >= 0));
    const file = join(sampleImages(), 'test', 'ship', '0001.jpg');
    c.send({ type: 'classify', runId: watchedRun, path: file, requestId: 'path' });
    const byPath = await c.next('classified', (m) => m.requestId === 'path');
    assert.deepEqual([byPath.width, byPath.height, byPath.resized], [32, 32, false]);
    assert.deepEqual(byPath.original, { mimeType: 'image/jpeg', base64: readFileSync(file).toString('base64') }, 'the file as given, for the dashboard');
    const png = readFileSync(join(__dirname, '..', '..', 'media', 'icon.png'));
    c.send({ type: 'classify', runId: watchedRun, image: { name: 'icon.png', base64: png.toString('base64') }, requestId: 'bytes' });
    const dropped = await c.next('classified', (m) => m.requestId === 'bytes');
    assert.equal(dropped.resized, true);
    assert.match(dropped.note, /transforms\.Resize\(\(32, 32\)\), PIL's bilinear filter/);
    assert.equal(dropped.top.length, 3);
  });

  test('bad requests get an error naming what is wrong, and the connection stays open', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ type: 'classify', runId: watchedRun, path: join(__dirname, 'predictions.test.ts') }, 'bad_image', /predictions\.test\.ts is not a PNG, JPEG or WebP image/],
      [{ type: 'classify', runId: watchedRun, image: { name: 'x.png', base64: Buffer.from('not an image').toString('base64') } }, 'bad_image', /x\.png is not a PNG, JPEG or WebP image/],
      [{ type: 'classify', runId: watchedRun, testIndex: 5000 }, 'bad_message', /testIndex must be below 1000/],
      [{ type: 'classify', testIndex: 1 }, 'bad_message', /must name either a runId or a checkpoint/],
      [{ type: 'classify', runId: watchedRun, testIndex: 1, path: '/x.png' }, 'bad_message', /exactly one of testIndex, path or image/],
      [{ type: 'classify', checkpoint: join(s.runsDir, 'nope.ckpt'), testIndex: 1 }, 'bad_checkpoint', /nope\.ckpt does not exist/],
      [{ type: 'gallery', runId: 'no-such-run' }, 'unknown_run', /no run no-such-run/],
      [{ type: 'gallery', runId: watchedRun, filter: { trueClass: 10 } }, 'bad_message', /filter\.trueClass must be a class index in 0\.\.9, got 10/],
    ];
    for (const [i, [msg, code, message]] of cases.entries()) {
      c.send(JSON.stringify({ ...msg, requestId: `bad${i}` }));
      const error = await c.next('error', (m) => m.requestId === `bad${i}` || (m.requestId === undefined && m.code === 'bad_message' && !m.runId), 30_000);
      assert.equal(error.code, code, `${JSON.stringify(msg)}: ${error.message}`);
      assert.match(error.message, message);
    }
  });
});
