// A live edit's one owner (sidecar/liveEdits.ts): every request is answered, once, whatever happens to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../sidecar/errors';
import { LiveEdits } from '../sidecar/liveEdits';
import type { ServerMessage } from '../sidecar/protocol';

function requester(requestId: string) {
  const answers: ServerMessage[] = [];
  return { request: { requestId, answer: (m: ServerMessage) => answers.push(m) }, answers };
}

test('edits merged between two steps are applied once, at the next step, answering every request id', () => {
  const edits = new LiveEdits();
  const a = requester('a'), b = requester('b');
  edits.stage({ learningRate: 0.01 }, a.request);
  edits.stage({ learningRate: 0.02, beta1: 0.8 }, b.request);
  let seen: unknown;
  const applied = edits.settle('run', 11, (changes) => { seen = changes; return { learningRate: { from: 0.001, to: 0.02 }, beta1: { from: 0.9, to: 0.8 } }; });
  assert.deepEqual(seen, { learningRate: 0.02, beta1: 0.8 }, 'the later value of a field wins');
  assert.deepEqual(applied, { type: 'applied', runId: 'run', step: 11, changes: { learningRate: { from: 0.001, to: 0.02 }, beta1: { from: 0.9, to: 0.8 } }, requestIds: ['a', 'b'] });
  assert.deepEqual([a.answers, b.answers], [[], []], 'the broadcast applied answers them; nothing is sent twice');
  assert.equal(edits.pending, false);
  assert.equal(edits.settle('run', 12, () => { throw new Error('not called'); }), null);
});

test('an edit that changes nothing is answered to its requester, and nothing is recorded', () => {
  const edits = new LiveEdits();
  const a = requester('same');
  edits.stage({ learningRate: 0.001 }, a.request);
  assert.equal(edits.settle('run', 5, () => ({})), null);
  assert.deepEqual(a.answers, [{ type: 'applied', runId: 'run', step: 5, changes: {}, requestId: 'same' }]);
});

test('an edit that cannot be applied is answered with an error carrying each request id and the code', () => {
  const edits = new LiveEdits();
  const a = requester('x'), b = requester('y');
  edits.stage({ batchSize: 1000 }, a.request);
  edits.stage({ batchSize: 900 }, b.request);
  assert.equal(edits.settle('run', 3, () => { throw new UserError('bad_config', 'batchSize 900 is larger than the training set'); }), null);
  for (const [r, id] of [[a, 'x'], [b, 'y']] as const) {
    assert.deepEqual(r.answers, [{ type: 'error', code: 'bad_config', message: 'batchSize 900 is larger than the training set', runId: 'run', requestId: id }]);
  }
});
