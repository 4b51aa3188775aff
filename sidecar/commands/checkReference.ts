// adam-trainer check-reference FILE.json...: checks the engine against PyTorch's reference vectors (format
// in shared/reference/README.md). Every hyperparameter (lr, betas, eps, batch size) comes from the file.
// Checked on both engines, the WebAssembly kernels and the TypeScript reference layers: the first batch's
// logits, loss and gradients; the training run through the real parallel engine (worker threads); and the
// float64 Adam trajectory on the same Adam code over Float64Array. Exits 1 past tolerance.
import { readFileSync } from 'node:fs';
import { UserError } from '../errors';
import { compileKernels, instantiateKernels, relaxedSimdSupported } from '../kernels/loader';
import { ReferenceNet } from '../nn/net';
import { IMAGE_BYTES, NUM_CLASSES, PARAMETERS, PARAMETER_COUNT } from '../nn/spec';
import { adamStep } from '../optim/adam';
import { variantError } from '../optim/hyperparameters';
import { rmspropStep } from '../optim/rmsprop';
import { sgdStep } from '../optim/sgd';
import { SharedArena } from '../parallel/arena';
import { configFieldSchemas, fieldError, resolveConfig, type RunConfig } from '../protocol';
import { defaultWorkers, TrainingSession, type EngineKind } from '../session';
import { parseFlags } from './args';

type Tensor = { shape: number[]; data: number[] } | number[];

/** What check-reference reads: ../shared/reference/README.md's layout, in either of its two forms (`adam` for
 *  the original Adam files, `optimizer` for any optimizer), plus this project's `training.teacher_forced`
 *  (test/reference/make_reference.py): PyTorch's own state before a few steps, float32 arrays as base64. */
interface Reference {
  adam?: { lr: number; beta1: number; beta2: number; eps: number };
  optimizer?: { name: string; learningRate: number; weightDecay?: number; beta1?: number; beta2?: number; epsilon?: number; momentum?: number; nesterov?: boolean; alpha?: number };
  batch_size: number;
  init_params: Record<string, Tensor>;
  first_batch: { images_u8: number[]; labels: number[]; logits: number[]; loss: number; grads: Record<string, Tensor>; near_ties?: NearTie[]; alternatives?: { swapped: number[]; grads: Sparse }[] };
  training: { steps: number; images_u8: number[]; labels: number[]; losses: number[]; final_params: Record<string, Tensor>; teacher_forced?: TeacherForcedStep[] };
  adam_only?: OptimizerOnly;
  optimizer_only?: OptimizerOnly;
}
interface OptimizerOnly { theta0: number[]; grads: number[][]; trajectory: number[][] }
interface TeacherForcedStep {
  step: number; params: string; state: { m?: string; v?: string; vMax?: string }; loss: number; paramsAfter: string;
  near_ties?: NearTie[]; alternatives?: { swapped: number[]; loss: number; paramsAfter: Sparse }[];
  /** PyTorch's float32 gradient of the step's loss, and a bound on its float32 rounding, per element. */
  grads?: string; gradRounding?: string;
}
/**
 * A max-pool window whose two largest values are within float32 rounding of each other, or (kind relu) a ReLU whose
 * input is within float32 rounding of zero, `on` where PyTorch has it on (make_reference.py).
 */
type NearTie =
  | { kind?: 'pool'; layer: number; image: number; channel: number; y: number; x: number; runnerUp: number; gapInRoundingUnits: number }
  | { kind: 'relu'; layer: string; image: number; index: number[]; on: boolean; gapInRoundingUnits: number };
/** PyTorch's result with some near ties taken by their runner-up, as differences from its main result. */
interface Sparse { index: string; delta: string }

export interface CheckResult {
  check: string;
  engine: EngineKind | 'float64';
  count: number;
  worst: { index: number; got: number; expected: number; error: number; allowed: number } | null;
  pass: boolean;
  /** false: reported, but not part of the verdict (see `note`). */
  counts?: false;
  note?: string;
  /** Elements past the tolerance that passed as the optimizer's step on a gradient within float32 rounding of PyTorch's. */
  withinGradientRounding?: { index: number; got: number; expected: number; gradient: number; rounding: number }[];
}

/** A file passes when every result that counts passes. */
export const filePasses = (results: CheckResult[]): boolean => results.every((r) => r.pass || r.counts === false);

// Why a free-running trajectory is not judged where the file can judge each step on its own. Measured (issue 10),
// on PyTorch's reference for seed 99, lr 3e-3, betas 0.85/0.995, eps 1e-8, batch 8: PyTorch itself, run in float64
// from the same weights, misses final_params by 1.12x the allowed error, at the same parameter this engine misses
// it on, fc1.weight[59][399]. That weight gets one gradient in 20 steps, -2.5e-8, from a pooled activation of 6e-6
// that float32 rounding alone moves by 7%; Adam turns a gradient the size of eps into a step of a sizeable fraction
// of lr, and later ReLUs switch on or off on the difference. On another configuration (seed 153, lr 2.2e-3, betas
// 0.93/0.996, eps 4.2e-8, batch 4) PyTorch in float32 with its linear layers summed in 4 interleaved lanes, as the
// kernels' f32x4 accumulators sum, misses losses and final_params by 3.26x and 70.50x, this engine's figures to the
// digit. Each single step from PyTorch's own state agrees within 2% of the allowed error.
const FREE_RUNNING_NOTE = 'free-running trajectory: shown, not judged, because the file carries PyTorch\'s state before single steps '
  + '(training.teacher_forced), which are judged instead at the same tolerances; after a few steps a free-running comparison '
  + 'measures how Adam grows a rounding difference in a near-zero gradient (PyTorch in float64 fails it too), not this engine';

/** Whether an element past the tolerance is another right answer (see GradientRounding), and why. */
type Accept = (index: number, got: number, expected: number) => { gradient: number; rounding: number } | null;

/**
 * |a - b| <= abs + rel * |b| for every element; reports the element closest to (or furthest past) its bound. An
 * element past it passes only if `accept` says so; such elements are listed, and the worst is then taken over the rest.
 */
export function compare(check: string, engine: CheckResult['engine'], got: ArrayLike<number>, expected: ArrayLike<number>, abs: number, rel: number, accept?: Accept): CheckResult {
  if (got.length !== expected.length) throw new UserError('bad_config', `${check}: ${got.length} values, the reference has ${expected.length}`);
  let worst: CheckResult['worst'] = null;
  let worstRatio = -1;
  let pass = true;
  const accepted: NonNullable<CheckResult['withinGradientRounding']> = [];
  for (let i = 0; i < got.length; i++) {
    const error = Math.abs(got[i] - expected[i]);
    const allowed = abs + rel * Math.abs(expected[i]);
    const ratio = Number.isNaN(error) ? Infinity : error / allowed;
    if (!(error <= allowed)) {
      const why = accept?.(i, got[i], expected[i]);
      if (why) { accepted.push({ index: i, got: got[i], expected: expected[i], ...why }); continue; }
      pass = false;
    }
    if (ratio > worstRatio) { worstRatio = ratio; worst = { index: i, got: got[i], expected: expected[i], error, allowed }; }
  }
  return { check, engine, count: got.length, worst, pass, ...(accepted.length ? { withinGradientRounding: accepted } : {}) };
}

/** main with an alternative's differences added, over the PARAMETER_COUNT values at offset. */
function withDelta(main: Float32Array, offset: number, sparse: Sparse, what: string): Float64Array {
  const out = Float64Array.from(main.subarray(offset, offset + PARAMETER_COUNT));
  const index = Buffer.from(sparse.index, 'base64');
  const delta = Buffer.from(sparse.delta, 'base64');
  if (index.length !== delta.length || index.length % 4 !== 0) throw new UserError('bad_config', `${what}: ${index.length / 4} indices, ${delta.length / 4} differences`);
  for (let j = 0; j < index.length; j += 4) {
    const i = index.readInt32LE(j);
    if (!(i >= 0 && i < PARAMETER_COUNT)) throw new UserError('bad_config', `${what}: index ${i} is not a parameter`);
    out[i] += delta.readFloatLE(j);
  }
  return out;
}

function describeTies(ties: NearTie[] | undefined, swapped: number[], what: string): string {
  return swapped.map((i) => {
    const t = ties?.[i];
    if (!t) throw new UserError('bad_config', `${what}: swaps near tie ${i}, which the file does not list`);
    const gap = t.gapInRoundingUnits.toPrecision(2);
    if (t.kind === 'relu') {
      const where = t.index.length === 4 ? `channel ${t.index[1]}, row ${t.index[2]}, column ${t.index[3]}` : `unit ${t.index[1]}`;
      return `${t.layer}'s ReLU (image ${t.image}, ${where}) taken ${t.on ? 'off' : 'on'}, whose input is ${gap} float32 rounding units from zero`;
    }
    return `pool${t.layer} window (image ${t.image}, channel ${t.channel}, row ${t.y}, column ${t.x}), whose two largest values are ${gap} float32 rounding units apart`;
  }).join('; ');
}

const NEAR_TIE_NOTE = 'matched PyTorch\'s own result with a near tie taken the other way, a max-pool window won by its runner-up or a ReLU '
  + 'whose input is within rounding of zero switched (the engine sums in another order or fuses a multiply and an add, and either way is right '
  + 'to float32 precision): ';

/**
 * The first batch's gradients: PyTorch's, or, when they differ, PyTorch's own with near-tied pool windows taken by
 * their runner-up (first_batch.alternatives), at the same tolerances. The alternatives are PyTorch's differences
 * from its main result, so a wrong main result stays wrong under every one of them.
 */
function compareGrads(ref: Reference, engine: EngineKind, got: Float32Array): CheckResult {
  const expected = flatParams(ref.first_batch.grads);
  const main = compare('first_batch.grads', engine, got, expected, 1e-6, 1e-4);
  if (main.pass) return main;
  for (const [k, alt] of (ref.first_batch.alternatives ?? []).entries()) {
    const what = `first_batch.alternatives[${k}]`;
    const r = compare('first_batch.grads', engine, got, withDelta(expected, 0, alt.grads, what), 1e-6, 1e-4);
    if (r.pass) return { ...r, note: NEAR_TIE_NOTE + describeTies(ref.first_batch.near_ties, alt.swapped, what) };
  }
  return main;
}

function flatParams(src: Record<string, Tensor>): Float32Array {
  const out = new Float32Array(PARAMETER_COUNT);
  for (const p of PARAMETERS) {
    const entry = src[p.name];
    if (!entry) throw new UserError('bad_config', `reference has no ${p.name}`);
    const data = Array.isArray(entry) ? entry : entry.data;
    if (data.length !== p.size) throw new UserError('bad_config', `reference ${p.name} has ${data.length} values, expected ${p.size}`);
    out.set(data, p.offset);
  }
  return out;
}

function firstBatchKernels(ref: Reference, engine: EngineKind): { logits: Float32Array; loss: number; grads: Float32Array } {
  const B = ref.batch_size;
  const params = flatParams(ref.init_params);
  const images = Uint8Array.from(ref.first_batch.images_u8);
  const labels = Uint8Array.from(ref.first_batch.labels);
  const indices = Int32Array.from({ length: B }, (_, i) => i);
  if (engine === 'reference') {
    const net = new ReferenceNet(B);
    const grads = new Float32Array(PARAMETER_COUNT);
    const logits = new Float32Array(B * NUM_CLASSES);
    net.logitsShard(params, images, indices, B, logits);
    const r = net.trainShard(params, grads, images, labels, indices, B, 1 / B);
    return { logits, loss: r.lossSum / B, grads };
  }
  const arena = new SharedArena();
  const k = instantiateKernels(compileKernels(relaxedSimdSupported()), arena.memory);
  const p = arena.allocF32(PARAMETER_COUNT); p.view.set(params);
  const g = arena.allocF32(PARAMETER_COUNT);
  const img = arena.allocU8(B * IMAGE_BYTES); img.view.set(images);
  const lab = arena.allocU8(B); lab.view.set(labels);
  const idx = arena.alloc(B * 4); arena.i32(idx, B).set(indices);
  const out = arena.allocF32(B * NUM_CLASSES);
  const stats = arena.alloc(16);
  const scratch = arena.alloc(k.scratchBytes(B));
  k.logitsShard(p.offset, img.offset, idx, B, scratch, out.offset);
  const lossSum = k.trainShard(p.offset, g.offset, img.offset, lab.offset, idx, B, 1 / B, scratch, stats);
  return { logits: Float32Array.from(out.view), loss: lossSum / B, grads: Float32Array.from(g.view) };
}

/** The optimizer and its hyperparameters, from either form of the file, checked as the wire checks them. */
export function optimizerOf(ref: Reference): Pick<RunConfig, 'optimizer' | 'learningRate' | 'beta1' | 'beta2' | 'epsilon' | 'weightDecay' | 'momentum' | 'alpha' | 'nesterov' | 'biasCorrection'> {
  const o = ref.optimizer ?? (ref.adam ? { name: 'adam', learningRate: ref.adam.lr, beta1: ref.adam.beta1, beta2: ref.adam.beta2, epsilon: ref.adam.eps, weightDecay: 0 } : undefined);
  if (!o) throw new UserError('bad_config', 'the reference names no optimizer: it has neither "optimizer" nor "adam"');
  const h = {
    optimizer: o.name, learningRate: o.learningRate, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-8,
    weightDecay: o.weightDecay ?? 0, momentum: o.momentum ?? 0, alpha: o.alpha ?? 0.99, nesterov: o.nesterov ?? false, biasCorrection: true,
  };
  for (const [field, value] of Object.entries(h)) {
    const problem = fieldError(field as keyof typeof configFieldSchemas, value);
    if (problem) throw new UserError('bad_config', `the reference's optimizer: ${problem}`);
  }
  const variant = variantError(h as ReturnType<typeof optimizerOf>);
  if (variant) throw new UserError('bad_config', `the reference's optimizer: ${variant}`);
  return h as ReturnType<typeof optimizerOf>;
}

/** A session over the file's training images in the file's order, through the real worker-thread engine. */
async function referenceSession(ref: Reference, engine: EngineKind, workers: number): Promise<TrainingSession> {
  const B = ref.batch_size;
  const steps = ref.training.steps;
  const config = resolveConfig({ ...optimizerOf(ref), batchSize: B, workers, epochs: 1 }, workers);
  const session = await TrainingSession.create({
    config,
    cacheDir: '',
    engine,
    dataset: (arena) => {
      const n = steps * B;
      const images = arena.allocU8(n * IMAGE_BYTES).view;
      images.set(ref.training.images_u8);
      const labels = arena.allocU8(n).view;
      labels.set(ref.training.labels);
      return { train: { images, labels, count: n }, test: { images, labels, count: n }, source: 'reference vectors' };
    },
  });
  session.engine.params.set(flatParams(ref.init_params));
  identityOrder(session);
  return session;
}

function identityOrder(session: TrainingSession): void {
  for (let i = 0; i < session.engine.permutation.length; i++) session.engine.permutation[i] = i;
}

async function trainingRun(ref: Reference, engine: EngineKind, workers: number): Promise<{ losses: number[]; params: Float32Array }> {
  const session = await referenceSession(ref, engine, workers);
  try {
    const steps = ref.training.steps;
    const losses: number[] = [];
    while (losses.length < steps) {
      const chunk = await session.trainChunk(steps - losses.length);
      losses.push(...chunk.losses);
    }
    return { losses, params: Float32Array.from(session.engine.params) };
  } finally {
    await session.close();
  }
}

function float32s(base64: string, what: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== PARAMETER_COUNT * 4) throw new UserError('bad_config', `${what}: ${bytes.length} bytes, expected ${PARAMETER_COUNT * 4}`);
  const out = new Float32Array(PARAMETER_COUNT);
  for (let i = 0; i < PARAMETER_COUNT; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/**
 * One step at a time from PyTorch's own state: before each recorded step the engine takes PyTorch's parameters
 * and optimizer buffers, trains that one step on the same batch, and its loss and new parameters are compared
 * with PyTorch's at the same tolerances as the free-running run. Unlike the free-running run, an error here
 * cannot be one that an earlier step's rounding grew into: it is this step's arithmetic alone.
 */
async function teacherForcedRun(ref: Reference, engine: EngineKind, workers: number): Promise<{ losses: number[]; expectedLosses: number[]; params: Float32Array; expected: Float32Array } | null> {
  const forced = ref.training.teacher_forced;
  if (!forced || forced.length === 0) return null;
  const session = await referenceSession(ref, engine, workers);
  try {
    const losses: number[] = [];
    const params = new Float32Array(forced.length * PARAMETER_COUNT);
    const expected = new Float32Array(forced.length * PARAMETER_COUNT);
    const e = session.engine;
    for (const [k, f] of forced.entries()) {
      const where = `training.teacher_forced[${k}]`;
      if (!Number.isInteger(f.step) || f.step < 0 || f.step >= ref.training.steps) throw new UserError('bad_config', `${where}.step must be a step of the run, got ${f.step}`);
      e.params.set(float32s(f.params, `${where}.params`));
      for (const key of ['m', 'v', 'vMax'] as const) {
        const b64 = f.state[key];
        e[key].set(b64 === undefined ? new Float32Array(PARAMETER_COUNT) : float32s(b64, `${where}.state.${key}`));
      }
      identityOrder(session);
      session.step = f.step;
      session.cursor = f.step * ref.batch_size;
      const chunk = await session.trainChunk(1);
      losses.push(chunk.losses[0]);
      params.set(e.params, k * PARAMETER_COUNT);
      expected.set(float32s(f.paramsAfter, `${where}.paramsAfter`), k * PARAMETER_COUNT);
    }
    return { losses, expectedLosses: forced.map((f) => f.loss), params, expected };
  } finally {
    await session.close();
  }
}

/** Evenly spaced gradients, ends included, on which GradientRounding tries the optimizer's step. */
const ROUNDING_SAMPLES = 257;

/**
 * Another right answer for one element of a single step: where PyTorch's gradient is itself of the size of float32
 * rounding (terms that cancel, a saturated softmax, a ReLU barely on), an engine that sums in another order gets
 * another gradient just as right, and an optimizer whose state is still small turns the difference into a sizeable
 * step (Adam with m = v = 0 moves by up to lr for any gradient far above eps). The file carries PyTorch's gradient g
 * and a bound r on its float32 rounding for each step (make_reference.py says how r is made). The optimizer's own
 * steps from PyTorch's state on the gradients in [g - r, g + r] (in float64) span a range of parameters. An element
 * past the tolerance passes only when that range is wider than the tolerance (rounding, not this engine, decides
 * the step), and both the engine's value and PyTorch's lie within the tolerance of it. Elsewhere the tolerance
 * alone judges, and a value the optimizer could not reach from that state on any such gradient, or a PyTorch value
 * that does not fit its own gradient, still fails. The gradients themselves are judged in first_batch.grads.
 */
function gradientRounding(ref: Reference, abs: number, rel: number): Accept | undefined {
  const forced = ref.training.teacher_forced ?? [];
  if (forced.length === 0 || !forced.every((f) => f.grads !== undefined && f.gradRounding !== undefined)) return undefined;
  const o = optimizerOf(ref);
  const decoded = new Map<number, { params: Float32Array; m: Float32Array; v: Float32Array; vMax: Float32Array; grads: Float32Array; rounding: Float32Array }>();
  const stateOf = (k: number) => {
    let d = decoded.get(k);
    if (!d) {
      const f = forced[k];
      const where = `training.teacher_forced[${k}]`;
      const buffer = (b64: string | undefined, what: string) => (b64 === undefined ? new Float32Array(PARAMETER_COUNT) : float32s(b64, `${where}.${what}`));
      d = {
        params: float32s(f.params, `${where}.params`), m: buffer(f.state.m, 'state.m'), v: buffer(f.state.v, 'state.v'), vMax: buffer(f.state.vMax, 'state.vMax'),
        grads: float32s(f.grads!, `${where}.grads`), rounding: float32s(f.gradRounding!, `${where}.gradRounding`),
      };
      for (const [i, r] of d.rounding.entries()) {
        if (!(r >= 0)) throw new UserError('bad_config', `${where}.gradRounding[${i}] must be a bound (>= 0), got ${r}`);
      }
      decoded.set(k, d);
    }
    return d;
  };
  return (index, got, expected) => {
    const k = Math.floor(index / PARAMETER_COUNT);
    const i = index % PARAMETER_COUNT;
    const d = stateOf(k);
    const g = d.grads[i];
    const r = d.rounding[i];
    if (!(r > 0)) return null;
    const n = ROUNDING_SAMPLES;
    const theta = new Float64Array(n).fill(d.params[i]);
    const m = new Float64Array(n).fill(d.m[i]);
    const v = new Float64Array(n).fill(d.v[i]);
    const vMax = new Float64Array(n).fill(d.vMax[i]);
    const grads = Float64Array.from({ length: n }, (_, j) => g - r + (2 * r * j) / (n - 1));
    const step = forced[k].step;
    if (o.optimizer === 'sgd') sgdStep(theta, grads, m, step === 0, o);
    else if (o.optimizer === 'rmsprop') rmspropStep(theta, grads, m, v, o, 0, n, false);
    else adamStep(theta, grads, m, v, vMax, step + 1, o, 0, n, false);
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of theta) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
    const within = (x: number) => x >= lo - (abs + rel * Math.abs(lo)) && x <= hi + (abs + rel * Math.abs(hi));
    const undecided = hi - lo > abs + rel * Math.max(Math.abs(lo), Math.abs(hi));
    return undecided && within(got) && within(expected) ? { gradient: g, rounding: r } : null;
  };
}

/**
 * For each single step the engine's result misses, PyTorch's own step with near-tied pool windows taken by their
 * runner-up (teacher_forced[k].alternatives), when one matches at the same tolerances: it replaces that step's
 * expected loss and parameters. Returns what was replaced, or undefined.
 */
function nearTieChoices(ref: Reference, forced: NonNullable<Awaited<ReturnType<typeof teacherForcedRun>>>, lr: number, accept: Accept | undefined): string | undefined {
  const notes: string[] = [];
  for (const [k, f] of (ref.training.teacher_forced ?? []).entries()) {
    const got = forced.params.subarray(k * PARAMETER_COUNT, (k + 1) * PARAMETER_COUNT);
    const expected = forced.expected.subarray(k * PARAMETER_COUNT, (k + 1) * PARAMETER_COUNT);
    const acceptHere: Accept | undefined = accept && ((i, value, wanted) => accept(k * PARAMETER_COUNT + i, value, wanted));
    const matches = (params: ArrayLike<number>, loss: number) => compare('step', 'wasm', got, params, 0.05 * lr, 1e-3, acceptHere).pass
      && compare('loss', 'wasm', [forced.losses[k]], [loss], 0, 1e-4).pass;
    if (matches(expected, forced.expectedLosses[k])) continue;
    for (const [j, alt] of (f.alternatives ?? []).entries()) {
      const what = `training.teacher_forced[${k}].alternatives[${j}]`;
      const params = withDelta(forced.expected, k * PARAMETER_COUNT, alt.paramsAfter, what);
      if (!matches(params, alt.loss)) continue;
      expected.set(params);
      forced.expectedLosses[k] = alt.loss;
      notes.push(`step ${f.step}: ${describeTies(f.near_ties, alt.swapped, what)}`);
      break;
    }
  }
  return notes.length ? NEAR_TIE_NOTE + notes.join('; ') : undefined;
}

function roundingNote(ref: Reference, accepted: NonNullable<CheckResult['withinGradientRounding']>): string {
  const forced = ref.training.teacher_forced ?? [];
  const listed = accepted.slice(0, 5).map((a) => {
    const k = Math.floor(a.index / PARAMETER_COUNT);
    return `${parameterName(a.index % PARAMETER_COUNT)} at step ${forced[k].step} (PyTorch's gradient ${a.gradient.toPrecision(2)}, its rounding bound ${a.rounding.toPrecision(2)}; `
      + `got ${a.got.toPrecision(5)}, PyTorch ${a.expected.toPrecision(5)})`;
  });
  return `${accepted.length} element${accepted.length === 1 ? '' : 's'} past the tolerance matched the optimizer's own step on a gradient within float32 `
    + `rounding of PyTorch's (training.teacher_forced[].gradRounding): ${listed.join('; ')}${accepted.length > 5 ? '; ...' : ''}`;
}

/** A flat parameter index as PyTorch names the element, e.g. fc2.weight[52][55]. */
export function parameterName(index: number): string {
  const p = PARAMETERS.find((q) => index >= q.offset && index < q.offset + q.size);
  if (!p) return `parameter ${index}`;
  let rest = index - p.offset;
  const at: number[] = [];
  for (let d = p.shape.length - 1; d >= 0; d--) { at.unshift(rest % p.shape[d]); rest = Math.floor(rest / p.shape[d]); }
  return `${p.name}${at.map((j) => `[${j}]`).join('')}`;
}

/** The optimizer alone in float64 (`optimizer_only`, or `adam_only` in the original files): the same code as training. */
function optimizerOnly(ref: Reference): CheckResult | null {
  const a = ref.optimizer_only ?? ref.adam_only;
  if (!a) return null;
  const o = optimizerOf(ref);
  const theta = Float64Array.from(a.theta0);
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  const vMax = new Float64Array(theta.length);
  const got: number[] = [];
  const expected: number[] = [];
  for (let t = 0; t < a.grads.length; t++) {
    const g = Float64Array.from(a.grads[t]);
    if (o.optimizer === 'sgd') sgdStep(theta, g, m, t === 0, o);
    else if (o.optimizer === 'rmsprop') rmspropStep(theta, g, m, v, o, 0, theta.length, false);
    else adamStep(theta, g, m, v, vMax, t + 1, o, 0, theta.length, false);
    got.push(...theta);
    expected.push(...a.trajectory[t]);
  }
  return compare(`${ref.optimizer_only ? 'optimizer_only' : 'adam_only'}.trajectory (float64)`, 'float64', got, expected, 0, 1e-9);
}

export async function checkReferenceFile(file: string, engines: EngineKind[], workers: number): Promise<CheckResult[]> {
  let ref: Reference;
  try {
    ref = JSON.parse(readFileSync(file, 'utf8')) as Reference;
  } catch (e) {
    throw new UserError('bad_config', `cannot read reference ${file}: ${(e as Error).message}`);
  }
  for (const key of ['batch_size', 'init_params', 'first_batch', 'training'] as const) {
    if (!(key in ref)) throw new UserError('bad_config', `${file} is not a reference file: it has no "${key}"`);
  }
  const lr = optimizerOf(ref).learningRate;
  const results: CheckResult[] = [];
  for (const engine of engines) {
    const fb = firstBatchKernels(ref, engine);
    results.push(compare('first_batch.logits', engine, fb.logits, ref.first_batch.logits, 1e-6, 1e-4));
    results.push(compare('first_batch.loss', engine, [fb.loss], [ref.first_batch.loss], 1e-6, 1e-4));
    results.push(compareGrads(ref, engine, fb.grads));
    const forced = await teacherForcedRun(ref, engine, workers);
    if (forced) {
      const accept = gradientRounding(ref, 0.05 * lr, 1e-3);
      const note = nearTieChoices(ref, forced, lr, accept);
      const withNote = (r: CheckResult): CheckResult => (note ? { ...r, note } : r);
      results.push(withNote(compare(`training.teacher_forced.losses (${workers} workers)`, engine, forced.losses, forced.expectedLosses, 0, 1e-4)));
      const params = compare(`training.teacher_forced.params (${workers} workers)`, engine, forced.params, forced.expected, 0.05 * lr, 1e-3, accept);
      results.push(withNote(params.withinGradientRounding ? { ...params, note: [note, roundingNote(ref, params.withinGradientRounding)].filter(Boolean).join('; ') } : params));
    }
    const tr = await trainingRun(ref, engine, workers);
    const free = [
      compare(`training.losses (${workers} workers)`, engine, tr.losses, ref.training.losses, 0, 1e-4),
      compare(`training.final_params (${workers} workers)`, engine, tr.params, flatParams(ref.training.final_params), 0.05 * lr, 1e-3),
    ];
    results.push(...(forced ? free.map((r): CheckResult => ({ ...r, counts: false, note: FREE_RUNNING_NOTE })) : free));
  }
  const a = optimizerOnly(ref);
  if (a) results.push(a);
  return results;
}

export async function checkReferenceCommand(args: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(args, {
    engine: { kind: 'string', check: (v) => (['wasm', 'reference', 'both'].includes(String(v)) ? undefined : `engine must be wasm, reference or both, got '${v}'`) },
    workers: { kind: 'int', check: (v) => (Number(v) >= 1 && Number(v) <= 64 ? undefined : 'workers must be in 1..64') },
  }, true);
  if (positionals.length === 0) throw new UserError('bad_usage', 'usage: adam-trainer check-reference FILE.json... [--engine wasm|reference|both] [--workers N]');
  const which = String(flags.engine ?? 'both');
  const engines: EngineKind[] = which === 'both' ? ['wasm', 'reference'] : [which as EngineKind];
  const workers = (flags.workers as number | undefined) ?? defaultWorkers();
  let ok = true;
  for (const file of positionals) {
    const results = await checkReferenceFile(file, engines, workers);
    const pass = filePasses(results);
    ok &&= pass;
    process.stdout.write(JSON.stringify({ file, pass, results }) + '\n');
  }
  return ok ? 0 : 1;
}
