import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { endedMessage, escapeMarkdown, figuresWaitMs, progressText, STATUS_INTERVAL_MS, runDescription, runTooltip, statusBarText, withoutLinks, type FollowedRun } from '../../extension/format';
import { resolveConfig, type EvalMessage, type MetricsMessage } from '../../sidecar/protocol';
import { fuzzOptions } from '../support/fuzz';
import { notificationLinks } from './notificationLinks';

const metrics: MetricsMessage = { type: 'metrics', runId: 'r1', step: 13_000, epoch: 1.04, samplesSeen: 52_000, loss: 1.2346, lossMin: 1, lossMax: 2, accuracy: 0.5612, learningRate: 0.001, samplesPerSec: 9876.4, updateRatio: {} };
const evalMsg: EvalMessage = { type: 'eval', runId: 'r1', step: 25_000, epoch: 2, testLoss: 1.2, testAccuracy: 0.5534, perClassAccuracy: Array(10).fill(0.5), confusion: Array.from({ length: 10 }, () => Array(10).fill(0)) };
const run = (extra: Partial<FollowedRun>): FollowedRun => ({ runId: 'r1', state: 'running', epochs: 2, optimizer: 'adam', ...extra });

test('the status bar shows epoch, loss, accuracy and samples/s of a training run', () => {
  assert.equal(statusBarText(run({ metrics })), '$(pulse) Adam epoch 2/2 · loss 1.235 · acc 56.1% · 9,876 samples/s');
});

test('a run\'s first figures go to the status bar at once, later ones at most every STATUS_INTERVAL_MS (random times)', () => {
  fc.assert(
    // `since` below 0: the clock went back (Date.now() follows the system clock); the wait is still at most one interval.
    fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: -3 * STATUS_INTERVAL_MS, max: 3 * STATUS_INTERVAL_MS }), fc.constantFrom('r1', 'r2', undefined), (at, since, shownRun) => {
      const now = at + since;
      const wait = figuresWaitMs({ runId: shownRun, at }, 'r1', now);
      assert.ok(wait >= 0 && wait <= STATUS_INTERVAL_MS, `waits ${wait} ms`);
      if (shownRun !== 'r1') assert.equal(wait, 0, 'the first figures of a run (or of a run newly followed) wait for nothing');
      else if (since >= 0) assert.equal(now + wait, Math.max(now, at + STATUS_INTERVAL_MS), 'the next figures go STATUS_INTERVAL_MS after the last, or now if that is past');
    }),
    fuzzOptions(),
  );
});

test('the status bar names the run\'s optimizer', () => {
  assert.equal(statusBarText(run({ state: 'done', optimizer: 'sgd', metrics, eval: evalMsg })), '$(check) SGD done · test 55.3%');
});

test('the status bar says when the run is paused', () => {
  assert.match(statusBarText(run({ state: 'paused', metrics })), /^\$\(debug-pause\) Adam paused · epoch 2\/2/);
});

test('a finished run shows its test accuracy', () => {
  assert.equal(statusBarText(run({ state: 'done', metrics, eval: evalMsg })), '$(check) Adam done · test 55.3%');
});

test('the end-of-run notification says the result', () => {
  assert.equal(endedMessage(run({ state: 'done', metrics, eval: evalMsg })), 'Run r1 finished after 13,000 steps: test accuracy 55.3%.');
  assert.equal(endedMessage(run({ state: 'failed' }), 'the dataset folder is empty'), 'Run r1 failed: the dataset folder is empty');
});

test('pickers describe a run in one line', () => {
  assert.equal(runDescription({ runId: 'r1', state: 'running', orphaned: true, config: resolveConfig({}, 2), step: 4000 }), 'adam lr 0.001 · interrupted · step 4,000');
});

test('a failed run\'s tooltip says why it failed, as text (no link forms), and a stopped run\'s says nothing more', () => {
  const reason = '/data/[x](command:workbench.action.quit)/notes.txt is not a JPEG or PNG image';
  const failed = runTooltip({ runId: 'r1', state: 'failed', reason, config: resolveConfig({ data: '/data' }, 2), step: 0 });
  assert.equal(failed.split('\n\n')[2], escapeMarkdown(reason));
  assert.doesNotMatch(failed, /\]\(/);
  const stopped = runTooltip({ runId: 'r2', state: 'stopped', config: resolveConfig({}, 2), step: 10 });
  assert.deepEqual(stopped.split('\n\n').slice(0, 2), ['**r2**', 'adam lr 0.001 · stopped · step 10']);
  assert.equal(stopped.split('\n\n').length, 3);
});

test('download progress is in MB, decoding in images', () => {
  assert.equal(progressText({ phase: 'download', done: 50 * 2 ** 20, total: 163 * 2 ** 20 }), 'Downloading CIFAR-10: 50 of 163 MB');
  assert.equal(progressText({ phase: 'decode', done: 1000, total: 50000 }), 'Decoding images: 1,000 of 50,000');
});

test('a notification built from a path named like a command link shows the path, with no link in it', () => {
  const file = '/data/cifar/train/cat/[open a terminal](command:workbench.action.terminal.new).png';
  const message = `Train with Adam: could not start the run: ${file} is not a JPEG or PNG image: an image folder must hold only images`;
  assert.deepEqual(notificationLinks(message), ['command:workbench.action.terminal.new'], 'VS Code would render it as a link');
  const shown = withoutLinks(message);
  assert.deepEqual(notificationLinks(shown), []);
  assert.ok(shown.includes('/data/cifar/train/cat/[open a terminal]\\(command:workbench.action.terminal.new).png'));
  assert.equal(withoutLinks('adamTrainer.beta1 must be in [0, 1), got 1.5 (see the docs)'), 'adamTrainer.beta1 must be in [0, 1), got 1.5 (see the docs)');
});

test('no text, however built of brackets, parentheses and link targets, renders a link once passed through withoutLinks', () => {
  const piece = fc.constantFrom('[', ']', '(', ')', '](', '\\', ' ', '"', "'", '`', 'command:x', 'https://e.org/', 'file:///etc', 'x', '\n');
  fc.assert(fc.property(fc.array(fc.oneof(piece, fc.string()), { maxLength: 30 }), (parts) => {
    const text = parts.join('');
    const shown = withoutLinks(text);
    assert.deepEqual(notificationLinks(shown), []);
    // Nothing changes but a backslash inserted in each "](".
    assert.equal(shown.replaceAll('\\', ''), text.replaceAll('\\', ''));
    assert.equal(shown.length, text.length + text.split('](').length - 1);
  }), fuzzOptions(500));
});

test('a path in Markdown (a tooltip) has every punctuation character escaped, so it renders as itself', () => {
  assert.equal(escapeMarkdown('/d/[x](command:y)/![i](https://t.example/p.png)'), '\\/d\\/\\[x\\]\\(command\\:y\\)\\/\\!\\[i\\]\\(https\\:\\/\\/t\\.example\\/p\\.png\\)');
  fc.assert(fc.property(fc.string(), (text) => {
    const escaped = escapeMarkdown(text);
    assert.equal(escaped.replace(/\\([!-/:-@[-`{-~])/g, '$1'), text); // CommonMark's backslash escapes undo it exactly
    assert.doesNotMatch(escaped.replace(/\\[!-/:-@[-`{-~]/g, ''), /[!-/:-@[-`{-~]/, 'no punctuation is left unescaped');
  }), fuzzOptions(500));
});
