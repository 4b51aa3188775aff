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
import { SharedArena } from '../parallel/arena';
import { resolveConfig } from '../protocol';
import { defaultWorkers, TrainingSession, type EngineKind } from '../session';
import { parseFlags } from './args';

interface Reference {
  adam: { lr: number; beta1: number; beta2: number; eps: number };
  batch_size: number;
  init_params: Record<string, { shape: number[]; data: number[] }>;
  first_batch: { images_u8: number[]; labels: number[]; logits: number[]; loss: number; grads: Record<string, { shape: number[]; data: number[] } | number[]> };
  training: { steps: number; images_u8: number[]; labels: number[]; losses: number[]; final_params: Record<string, { shape: number[]; data: number[] }> };
  adam_only?: { theta0: number[]; grads: number[][]; trajectory: number[][] };
}

export interface CheckResult {
  check: string;
  engine: EngineKind | 'float64';
  count: number;
  worst: { index: number; got: number; expected: number; error: number; allowed: number } | null;
  pass: boolean;
}

/** |a - b| <= abs + rel * |b| for every element; reports the element closest to (or furthest past) its bound. */
export function compare(check: string, engine: CheckResult['engine'], got: ArrayLike<number>, expected: ArrayLike<number>, abs: number, rel: number): CheckResult {
  if (got.length !== expected.length) throw new UserError('bad_config', `${check}: ${got.length} values, the reference has ${expected.length}`);
  let worst: CheckResult['worst'] = null;
  let worstRatio = -1;
  let pass = true;
  for (let i = 0; i < got.length; i++) {
    const error = Math.abs(got[i] - expected[i]);
    const allowed = abs + rel * Math.abs(expected[i]);
    const ratio = Number.isNaN(error) ? Infinity : error / allowed;
    if (!(error <= allowed)) pass = false;
    if (ratio > worstRatio) { worstRatio = ratio; worst = { index: i, got: got[i], expected: expected[i], error, allowed }; }
  }
  return { check, engine, count: got.length, worst, pass };
}

function flatParams(src: Record<string, { data: number[] } | number[]>): Float32Array {
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

async function trainingRun(ref: Reference, engine: EngineKind, workers: number): Promise<{ losses: number[]; params: Float32Array }> {
  const B = ref.batch_size;
  const steps = ref.training.steps;
  const config = resolveConfig({ learningRate: ref.adam.lr, beta1: ref.adam.beta1, beta2: ref.adam.beta2, epsilon: ref.adam.eps, batchSize: B, workers, epochs: 1 }, workers);
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
  try {
    session.engine.params.set(flatParams(ref.init_params));
    for (let i = 0; i < session.engine.permutation.length; i++) session.engine.permutation[i] = i; // the file's order
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

function adamOnly(ref: Reference): CheckResult | null {
  const a = ref.adam_only;
  if (!a) return null;
  const theta = Float64Array.from(a.theta0);
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  const got: number[] = [];
  const expected: number[] = [];
  const h = { learningRate: ref.adam.lr, beta1: ref.adam.beta1, beta2: ref.adam.beta2, epsilon: ref.adam.eps, weightDecay: 0, decoupledWeightDecay: false, amsgrad: false };
  for (let t = 0; t < a.grads.length; t++) {
    adamStep(theta, Float64Array.from(a.grads[t]), m, v, null, t + 1, h, 0, theta.length, false);
    got.push(...theta);
    expected.push(...a.trajectory[t]);
  }
  return compare('adam_only.trajectory (float64)', 'float64', got, expected, 0, 1e-9);
}

export async function checkReferenceFile(file: string, engines: EngineKind[], workers: number): Promise<CheckResult[]> {
  let ref: Reference;
  try {
    ref = JSON.parse(readFileSync(file, 'utf8')) as Reference;
  } catch (e) {
    throw new UserError('bad_config', `cannot read reference ${file}: ${(e as Error).message}`);
  }
  for (const key of ['adam', 'batch_size', 'init_params', 'first_batch', 'training'] as const) {
    if (!(key in ref)) throw new UserError('bad_config', `${file} is not a reference file: it has no "${key}"`);
  }
  const results: CheckResult[] = [];
  const lr = ref.adam.lr;
  for (const engine of engines) {
    const fb = firstBatchKernels(ref, engine);
    results.push(compare('first_batch.logits', engine, fb.logits, ref.first_batch.logits, 1e-6, 1e-4));
    results.push(compare('first_batch.loss', engine, [fb.loss], [ref.first_batch.loss], 1e-6, 1e-4));
    results.push(compare('first_batch.grads', engine, fb.grads, flatParams(ref.first_batch.grads), 1e-6, 1e-4));
    const tr = await trainingRun(ref, engine, workers);
    results.push(compare(`training.losses (${workers} workers)`, engine, tr.losses, ref.training.losses, 0, 1e-4));
    results.push(compare(`training.final_params (${workers} workers)`, engine, tr.params, flatParams(ref.training.final_params), 0.05 * lr, 1e-3));
  }
  const a = adamOnly(ref);
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
    const pass = results.every((r) => r.pass);
    ok &&= pass;
    process.stdout.write(JSON.stringify({ file, pass, results }) + '\n');
  }
  return ok ? 0 : 1;
}
