// The protocol's parsers against whatever arrives: text that is not JSON, JSON of any shape, and every message type
// of both directions with its fields replaced, removed or added. A parse never throws; it gives a message that its
// schema accepts, or an error with the code bad_message and a sentence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  clientMessageSchema,
  ERROR_CODES,
  metricsColumns,
  parseClientMessage,
  parseServerMessage,
  resolveConfig,
  serverMessageSchema,
  validateClientMessage,
  validateServerMessage,
  type ClientMessage,
  type MetricsMessage,
  type Parsed,
  type ServerMessage,
} from '../sidecar/protocol';
import { CASE_MS, fuzzOptions } from './support/fuzz';

const config = resolveConfig({ data: 'sample' }, 2);
const group = { id: 'g1', optimizers: ['adam', 'sgd'], seeds: [1, 2] };
const metrics = { type: 'metrics', runId: 'r', step: 10, epoch: 0.1, samplesSeen: 40, loss: 2.3, lossMin: 2, lossMax: 2.5, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: { conv1: 0.5 } };
const evalMsg = { type: 'eval', runId: 'r', step: 10, epoch: 1, testLoss: 2, testAccuracy: 0.2, perClassAccuracy: Array(10).fill(0.2), confusion: Array.from({ length: 10 }, () => Array(10).fill(1)) };
const applied = { type: 'applied', runId: 'r', step: 10, changes: { learningRate: { from: 1e-3, to: 2e-4 } }, requestId: 'a' };

/** One valid message of every type the client may send. */
const CLIENT: ClientMessage[] = [
  { type: 'start', config: { learningRate: 2e-3, data: 'sample' }, resumeFrom: '/x/latest.ckpt', requestId: 1 },
  { type: 'update', runId: 'r', learningRate: 1e-4, batchSize: 8 },
  ...(['pause', 'resume', 'stop', 'checkpoint', 'evaluate', 'subscribe', 'unsubscribe', 'delete'] as const).map((type) => ({ type, runId: 'r', requestId: 'q' })),
  { type: 'fork', runId: 'r', step: 100, changes: { beta1: 0.8 } },
  { type: 'list' },
  { type: 'live', level: 'status' },
  { type: 'detail', runId: 'r', fromStep: 0, toStep: 100, requestId: 'd' },
  { type: 'compare', optimizers: ['adam', 'sgd'], seeds: [1, 2, 3], config: { epochs: 1 } },
  { type: 'gallery', runId: 'r', filter: { wrongOnly: true, trueClass: 3, predictedClass: 5, order: 'confidentMistakes' }, offset: 48, limit: 48, requestId: 'g' },
  { type: 'classify', runId: 'r', image: { name: 'cat.webp', base64: 'UklGRg==' }, requestId: 'c' },
  { type: 'update', runId: 'r', schedule: 'cosine', warmupSteps: 500, minLearningRate: 0, maxLearningRate: 0.01, stepSize: 100, gamma: 0.5, pctStart: 0.3 },
  { type: 'lrFind', runId: 'r', optimizers: ['adam', 'sgd'], minLearningRate: 1e-7, maxLearningRate: 1, steps: 300, requestId: 'f' },
] as ClientMessage[];

const stepHistogram = {
  type: 'stepHistogram', runId: 'r', step: 40, fromStep: 20, columns: 2,
  bins: { effectiveStep: { lo: -1, hi: 0, perDecade: 1 }, updateRatio: { lo: -2, hi: 0, perDecade: 1 } },
  layers: { conv1: { effectiveStep: [1, 2, 3], updateRatio: [0, 4, 2, 0] }, fc3: { updateRatio: [1, 0, 0, 0] } },
} as const;

/** One valid message of every type the sidecar may send. */
const SERVER: ServerMessage[] = [
  { type: 'hello', protocolVersion: 1, runs: [{ runId: 'r', state: 'running', config }] },
  { type: 'started', runId: 'r', config, group, requestId: 'x' },
  { type: 'comparing', group },
  metrics,
  evalMsg,
  applied,
  { type: 'state', runId: 'r', state: 'failed', reason: 'why', step: 3 },
  { type: 'progress', phase: 'download', done: 1, total: 2 },
  { type: 'error', code: 'bad_dataset', message: 'm', field: 'data' },
  { type: 'history', runId: 'r', config, state: 'done', metrics: metricsColumns([metrics as MetricsMessage]), evals: [evalMsg], applied: [applied] },
  stepHistogram,
  { type: 'history', runId: 'r', config, state: 'done', metrics: metricsColumns([]), evals: [], applied: [], stepHistograms: [stepHistogram] },
  { type: 'runs', runs: [] },
  { type: 'checkpointed', runId: 'r', step: 5, path: '/p' },
  { type: 'detail', runId: 'r', fromStep: 0, toStep: 2, loss: { steps: [1, 2], mean: [2.3, null], min: [2.2, null], max: [2.4, null] }, metrics: [metrics], requestId: 'd' },
  { type: 'system', cpuPercent: 10, rssBytes: 1e8, datasets: [{ source: 'built-in sample (3,000 train / 1,000 test images)', runs: 2, bytes: 2e7 }], datasetLoads: 1 },
  {
    type: 'gallery', runId: 'r', step: 5, source: 'live', total: 1000, matching: 1, offset: 0, filter: { wrongOnly: true }, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
    items: [{ index: 7, label: 3, top: [{ class: 'dog', probability: 0.5 }, { class: 'cat', probability: 0.3 }, { class: 'frog', probability: 0.1 }], image: 'AAAA' }],
  },
  {
    type: 'classified', runId: 'r', step: 5, source: 'checkpoint', name: '/x/cat.webp', width: 640, height: 480, resized: true, note: 'resized', image: 'AAAA',
    top: [{ class: 'cat', probability: 0.9 }], conv1: new Array(450).fill(0.1), conv2: new Array(1600).fill(0), requestId: 'c',
  },
  { type: 'plan', runId: 'r', step: 11, points: [{ step: 11, learningRate: 1e-3 }, { step: 1500, learningRate: 0 }] },
  { type: 'applied', runId: 'r', step: 11, changes: { schedule: { from: 'constant', to: 'cosine' } } },
  { type: 'lrFound', runId: 'r', optimizer: 'adam', points: [{ step: 1, learningRate: 1e-7, loss: 2.3, smoothedLoss: 2.3 }], learningRate: null, minLossLearningRate: 1e-7, diverged: false, requestId: 'f' },
] as ServerMessage[];

test('every sample message is valid: the fuzzing below starts from real messages', () => {
  for (const m of CLIENT) assert.ok(validateClientMessage(m).ok, JSON.stringify(validateClientMessage(m)));
  for (const m of SERVER) assert.ok(validateServerMessage(m).ok, JSON.stringify(validateServerMessage(m)));
  const types = (schema: { options: Array<{ shape: { type: { value: string } } }> }) => schema.options.map((o) => o.shape.type.value).sort();
  assert.deepEqual([...new Set(CLIENT.map((m) => m.type))].sort(), types(clientMessageSchema as never), 'a sample of every client message');
  assert.deepEqual([...new Set(SERVER.map((m) => m.type))].sort(), types(serverMessageSchema as never), 'a sample of every server message');
});

function check<T>(parse: () => Parsed<T>, schema: { safeParse(v: unknown): { success: boolean } }): void {
  const started = performance.now();
  const r = parse(); // must not throw
  assert.ok(performance.now() - started < CASE_MS);
  if (r.ok) assert.ok(schema.safeParse(r.message).success, 'what is accepted is what the schema says');
  else {
    assert.equal(r.error.code, 'bad_message');
    assert.ok((ERROR_CODES as readonly string[]).includes(r.error.code));
    assert.equal(typeof r.error.message, 'string');
    assert.ok(r.error.message.length > 0);
  }
}

// Any JSON value, now and then one holding __proto__ and friends.
const anyJson = fc.oneof(
  { weight: 9, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom({ __proto__: { type: 'list' } }, JSON.parse('{"__proto__": {"type": "list"}, "type": "list"}'), { constructor: 1, type: 'stop', runId: 'r' }) },
);
// Text nested deeper than any parser's stack, up to the 1 MiB a frame may hold: inside a message, or alone.
const deepText = fc.tuple(fc.integer({ min: 0, max: 19 }).map((e) => 2 ** e), fc.constantFrom('', '{"type":"start","config":', '{"type":"update","runId":"r","learningRate":'))
  .map(([depth, head]) => head + '['.repeat(depth) + ']'.repeat(depth) + (head ? '}' : ''));

// A real message with fields replaced by anything, removed, or added.
function mutated<T extends object>(samples: T[]) {
  return fc.record({
    sample: fc.constantFrom(...samples),
    replace: fc.array(fc.tuple(fc.nat(), anyJson), { maxLength: 3 }),
    remove: fc.array(fc.nat(), { maxLength: 2 }),
    add: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 2 }),
  }).map(({ sample, replace, remove, add }) => {
    const m: Record<string, unknown> = structuredClone(sample) as Record<string, unknown>;
    const keys = () => Object.keys(m);
    for (const [i, v] of replace) if (keys().length) m[keys()[i % keys().length]] = v;
    for (const i of remove) if (keys().length) delete m[keys()[i % keys().length]];
    return Object.assign(m, add);
  });
}

test('any text given to parseClientMessage and parseServerMessage is a message or a bad_message error, never a throw', () => {
  const text = fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 3, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? '') },
    { weight: 1, arbitrary: deepText },
  );
  fc.assert(fc.property(text, (t) => {
    check(() => parseClientMessage(t), clientMessageSchema);
    check(() => parseServerMessage(t), serverMessageSchema);
  }), fuzzOptions());
});

test('every client message with fields replaced, removed or added is accepted as valid or refused as bad_message', () => {
  fc.assert(fc.property(mutated(CLIENT), (m) => {
    check(() => validateClientMessage(m), clientMessageSchema);
    check(() => parseClientMessage(JSON.stringify(m)), clientMessageSchema);
  }), fuzzOptions());
});

test('every server message with fields replaced, removed or added is accepted as valid or refused as bad_message', () => {
  fc.assert(fc.property(mutated(SERVER), (m) => {
    check(() => validateServerMessage(m), serverMessageSchema);
    check(() => parseServerMessage(JSON.stringify(m)), serverMessageSchema);
  }), fuzzOptions());
});
