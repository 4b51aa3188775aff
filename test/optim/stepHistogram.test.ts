// The step histograms (optim/stepHistogram.ts) against the same histograms computed plainly in float64 from the
// parameters and moments (Kingma & Ba's m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), log10 of each value), on random
// configurations and random optimizer states: every bin count agrees, except for values within float32 rounding of
// a bin edge, which may fall on either side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LAYER_NAMES, PARAMETERS, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import type { OptimizerHyperparameters } from '../../sidecar/optim/hyperparameters';
import { binCount, binEdges, binIndex, EFFECTIVE_STEP_BINS, LogBinner, UPDATE_RATIO_BINS, type LogBins } from '../../sidecar/optim/stepBins';
import { stepHistograms } from '../../sidecar/optim/stepHistogram';
import { Rng } from '../../sidecar/rng';
import { compileKernels, instantiateKernels } from '../../sidecar/kernels/loader';
import { WasmStepHistograms } from '../../sidecar/kernels/stepHistograms';
import { SharedArena } from '../../sidecar/parallel/arena';
import { fuzzOptions } from '../support/fuzz';

/** Float32 rounding, relative: a value this close to an edge may land on either side of it. */
const EDGE_TOLERANCE = 2 ** -23;
const ULP = 2 ** -24; // float32's unit roundoff

/**
 * How far, relative, the kernel's float32 arithmetic may put a value from its float64 definition: one unit roundoff
 * per float32 operation or constant on the way (e: sqrt, /√(1−β2ᵗ), +ε, m/…, /(1−β1ᵗ) and the three constants rounded
 * to float32; the update adds lr·e and the decay, whose rounding grows where they cancel; then /|p|), plus the edge's
 * own rounding to float32.
 */
const kernelTolerance = {
  effectiveStep: () => 9 * ULP,
  updateRatio: (lrE: number, decay: number, u: number) => ((10 * Math.abs(lrE) + 3 * Math.abs(decay)) / u + 3) * ULP,
};
const float64Tolerance = { effectiveStep: () => EDGE_TOLERANCE, updateRatio: () => EDGE_TOLERANCE };

/** The plain definition: bin 1 + floor((log10 x − lo) · perDecade), 0 below the range or for 0, last at or above. */
function plainBin(x: number, b: LogBins, tolerance: number): { bin: number; nearEdge: boolean } {
  const n = binCount(b);
  if (x === 0) return { bin: 0, nearEdge: false };
  if (!Number.isFinite(x)) return { bin: n - 1, nearEdge: false };
  const position = (Math.log10(x) - b.lo) * b.perDecade;
  const nearest = Math.round(position);
  const edge = Math.pow(10, b.lo + nearest / b.perDecade);
  const nearEdge = nearest >= 0 && nearest <= n - 2 && Math.abs(x - edge) <= tolerance * edge;
  return { bin: Math.min(n - 1, Math.max(0, Math.floor(position) + 1)), nearEdge };
}

interface PlainCounts { certain: number[]; ambiguous: number[] } // ambiguous[k]: values near the edge between bins k-1 and k

function plainHistograms(params: Float32Array, m: Float32Array, v: Float32Array, vMax: Float32Array, t: number, h: OptimizerHyperparameters, tol: typeof kernelTolerance = float64Tolerance) {
  const out: Record<string, { effectiveStep?: PlainCounts; updateRatio: PlainCounts }> = {};
  const empty = (b: LogBins): PlainCounts => ({ certain: new Array(binCount(b)).fill(0), ambiguous: new Array(binCount(b)).fill(0) });
  const put = (c: PlainCounts, x: number, b: LogBins, tolerance: number) => {
    const { bin, nearEdge } = plainBin(x, b, tolerance);
    if (!nearEdge) return void c.certain[bin]++;
    const position = Math.round((Math.log10(x) - b.lo) * b.perDecade); // the edge between bins `position` and `position + 1`
    c.ambiguous[position + 1]++;
  };
  for (const layer of LAYER_NAMES) out[layer] = { ...(h.optimizer === 'sgd' ? {} : { effectiveStep: empty(EFFECTIVE_STEP_BINS) }), updateRatio: empty(UPDATE_RATIO_BINS) };
  for (const p of PARAMETERS) {
    for (let i = p.offset; i < p.offset + p.size; i++) {
      let update: number;
      let lrE: number;
      let decay = 0;
      if (h.optimizer === 'sgd') update = lrE = h.learningRate * m[i];
      else {
        // Without bias correction (issue 14's ablation) m and v are used raw.
        const mHat = m[i] / (h.biasCorrection ? 1 - h.beta1 ** t : 1);
        const vHat = (h.optimizer === 'amsgrad' ? vMax[i] : v[i]) / (h.biasCorrection ? 1 - h.beta2 ** t : 1);
        const ratio = mHat / (Math.sqrt(vHat) + h.epsilon);
        put(out[p.layer].effectiveStep!, Math.abs(ratio), EFFECTIVE_STEP_BINS, tol.effectiveStep());
        lrE = h.learningRate * ratio;
        decay = h.optimizer === 'adamw' ? h.learningRate * h.weightDecay * params[i] : 0;
        update = lrE + decay;
      }
      const u = Math.abs(update);
      put(out[p.layer].updateRatio, u === 0 ? 0 : params[i] === 0 ? Infinity : u / Math.abs(params[i]), UPDATE_RATIO_BINS, u === 0 ? 0 : tol.updateRatio(lrE, decay, u));
    }
  }
  return out;
}

let ambiguousSeen = 0;

/** Counts equal the plain ones, an ambiguous value counted on either side of its edge. */
function assertAgrees(got: Int32Array, want: PlainCounts, what: string): void {
  const n = got.length;
  assert.equal(n, want.certain.length, `${what}: number of bins`);
  // Walk the bins in order: what bin k holds beyond its certain values must come from the edges on either side.
  let carried = 0; // ambiguous values of the edge below bin k that bin k-1 did not take
  for (let k = 0; k < n; k++) {
    const extra = got[k] - want.certain[k];
    const above = k + 1 < n ? want.ambiguous[k + 1] : 0;
    assert.ok(extra >= carried && extra <= carried + above,
      `${what}: bin ${k} holds ${got[k]}, the float64 definition ${want.certain[k]} (+${carried} from the edge below, up to +${above} from the edge above)`);
    carried = above - (extra - carried);
    ambiguousSeen += above;
  }
  assert.equal(carried, 0, `${what}: every value near the top edge is counted`);
}

function randomState(seed: number, scales: { param: number; grad: number; zeros: number; edges: number }, h: OptimizerHyperparameters, t: number) {
  const rng = new Rng(seed);
  const P = PARAMETER_COUNT;
  const params = new Float32Array(P), m = new Float32Array(P), v = new Float32Array(P), vMax = new Float32Array(P);
  const logUniform = (scale: number) => scale * Math.exp(rng.uniform(-12, 3));
  const stepEdges = binEdges(EFFECTIVE_STEP_BINS);
  const ratioEdges = binEdges(UPDATE_RATIO_BINS);
  const pick = (e: Float64Array) => e[rng.nextInt(e.length)];
  const bc1 = h.biasCorrection ? 1 - h.beta1 ** t : 1, bc2 = h.biasCorrection ? 1 - h.beta2 ** t : 1;
  for (let i = 0; i < P; i++) {
    params[i] = rng.nextInt(1000) < scales.zeros ? 0 : (rng.nextInt(2) ? 1 : -1) * logUniform(scales.param);
    const g = logUniform(scales.grad);
    m[i] = rng.nextInt(1000) < scales.zeros ? 0 : (rng.nextInt(2) ? 1 : -1) * g * rng.uniform(0, 1);
    v[i] = rng.nextInt(1000) < scales.zeros ? 0 : g * g * rng.uniform(0.01, 2);
    vMax[i] = v[i] * rng.uniform(1, 3);
    const second = h.optimizer === 'amsgrad' ? vMax[i] : v[i];
    // Values at a bin edge as float32 holds them: the cases the tolerance is for.
    if (h.optimizer !== 'sgd' && rng.nextInt(1000) < scales.edges) m[i] = Math.fround(pick(stepEdges) * (Math.sqrt(second / bc2) + h.epsilon) * bc1);
    if (h.optimizer !== 'adamw' && rng.nextInt(1000) < scales.edges) {
      const u = h.optimizer === 'sgd' ? h.learningRate * m[i] : (h.learningRate * m[i]) / bc1 / (Math.sqrt(second / bc2) + h.epsilon);
      params[i] = Math.fround(Math.abs(u) / pick(ratioEdges)) || params[i];
    }
  }
  return { params, m, v, vMax };
}

const hyper = fc.record({
  optimizer: fc.constantFrom('adam', 'adamw', 'amsgrad', 'sgd') as fc.Arbitrary<OptimizerHyperparameters['optimizer']>,
  learningRate: fc.double({ min: 1e-5, max: 1, noNaN: true }),
  beta1: fc.double({ min: 0, max: 0.999, noNaN: true }),
  beta2: fc.double({ min: 0.5, max: 0.99999, noNaN: true }),
  epsilon: fc.double({ min: 1e-12, max: 1e-2, noNaN: true }),
  weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
  momentum: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
  alpha: fc.constant(0.99),
  biasCorrection: fc.boolean(),
  nesterov: fc.constant(false),
});

const scalesArbitrary = fc.record({ param: fc.double({ min: 1e-4, max: 1, noNaN: true }), grad: fc.double({ min: 1e-6, max: 10, noNaN: true }), zeros: fc.integer({ min: 0, max: 50 }), edges: fc.integer({ min: 0, max: 20 }) });

test('the step histograms equal the float64 definition from the parameters and moments, on random configurations and states', () => {
  fc.assert(
    fc.property(
      hyper,
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      scalesArbitrary,
      (h, step, seed, scales) => {
        const s = randomState(seed, scales, h, step);
        const got = stepHistograms(s, step, h);
        assert.ok(got);
        const want = plainHistograms(s.params, s.m, s.v, s.vMax, step, h);
        for (const p of LAYER_NAMES) {
          const size = PARAMETERS.filter((q) => q.layer === p).reduce((n, q) => n + q.size, 0);
          assert.equal(got[p].updateRatio.reduce((a, b) => a + b, 0), size, `${p}: every parameter counted once`);
          assertAgrees(got[p].updateRatio, want[p].updateRatio, `${h.optimizer} ${p} update ratio`);
          if (h.optimizer === 'sgd') assert.equal(got[p].effectiveStep, undefined, 'SGD has no m̂/√v̂');
          else assertAgrees(got[p].effectiveStep!, want[p].effectiveStep!, `${h.optimizer} ${p} effective step`);
        }
      },
    ),
    fuzzOptions(25),
  );
  assert.ok(ambiguousSeen > 0, 'the random states put values within float32 rounding of an edge');
});

test('the WebAssembly kernel\'s float32 histograms equal the float64 definition, within float32 rounding of an edge, on random configurations and states', () => {
  const arena = new SharedArena();
  const kernels = new WasmStepHistograms(instantiateKernels(compileKernels(false), arena.memory), arena);
  const P = PARAMETER_COUNT;
  const shared = { params: arena.allocF32(P).view, m: arena.allocF32(P).view, v: arena.allocF32(P).view, vMax: arena.allocF32(P).view };
  ambiguousSeen = 0;
  fc.assert(
    fc.property(hyper, fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), scalesArbitrary, (h, step, seed, scales) => {
      const s = randomState(seed, scales, h, step);
      for (const k of ['params', 'm', 'v', 'vMax'] as const) shared[k].set(s[k]);
      const got = kernels.compute(shared, step, h);
      assert.ok(got);
      const want = plainHistograms(s.params, s.m, s.v, s.vMax, step, h, kernelTolerance);
      for (const p of LAYER_NAMES) {
        assertAgrees(got[p].updateRatio, want[p].updateRatio, `kernel ${h.optimizer} ${p} update ratio`);
        if (h.optimizer === 'sgd') assert.equal(got[p].effectiveStep, undefined);
        else assertAgrees(got[p].effectiveStep!, want[p].effectiveStep!, `kernel ${h.optimizer} ${p} effective step`);
      }
    }),
    fuzzOptions(25),
  );
  assert.ok(ambiguousSeen > 0, 'the random states put values within float32 rounding of an edge');
});

test('the table-driven binner puts every value, edges and their float64 neighbours included, in the bin of the definition', () => {
  for (const bins of [EFFECTIVE_STEP_BINS, UPDATE_RATIO_BINS]) {
    const fast = new LogBinner(bins);
    const edges = binEdges(bins);
    const slow = (x: number) => binIndex(x, edges, bins.lo, bins.perDecade);
    const word = new Float64Array(1);
    const bits = new BigInt64Array(word.buffer);
    const neighbours = (x: number) => { word[0] = x; const b = bits[0]; return [-1n, 0n, 1n].map((d) => { bits[0] = b + d; return word[0]; }); };
    for (const e of edges) for (const x of neighbours(e)) assert.equal(fast.index(x), slow(x), `${x} near edge ${e}`);
    for (const x of [0, Number.MIN_VALUE, 1e-300, Infinity, NaN, 1e300]) assert.equal(fast.index(x), slow(x), `${x}`);
    fc.assert(fc.property(fc.double({ min: 0, noNaN: false }), (x) => fast.index(x) === slow(x)), fuzzOptions(2000));
    fc.assert(fc.property(fc.double({ min: Math.pow(10, bins.lo - 1), max: Math.pow(10, bins.hi + 1), noNaN: true }), (x) => fast.index(x) === slow(x)), fuzzOptions(2000));
  }
});

test('the bins hold zero and values below the range first, and values at or above it last', () => {
  const b = EFFECTIVE_STEP_BINS;
  const edges = binEdges(b);
  const n = binCount(b);
  assert.equal(n, (b.hi - b.lo) * b.perDecade + 2);
  assert.equal(binIndex(0, edges, b.lo, b.perDecade), 0);
  assert.equal(binIndex(edges[0] * (1 - 1e-12), edges, b.lo, b.perDecade), 0);
  assert.equal(binIndex(edges[0], edges, b.lo, b.perDecade), 1);
  assert.equal(binIndex(1, edges, b.lo, b.perDecade), -b.lo * b.perDecade + 1); // 10^0 opens its bin
  assert.equal(binIndex(edges[n - 2], edges, b.lo, b.perDecade), n - 1);
  assert.equal(binIndex(Infinity, edges, b.lo, b.perDecade), n - 1);
});

test('SGD without momentum keeps no buffer to read its update from: no histograms rather than wrong ones', () => {
  const h: OptimizerHyperparameters = { optimizer: 'sgd', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, momentum: 0, alpha: 0.99, biasCorrection: true, nesterov: false };
  const s = randomState(1, { param: 0.1, grad: 0.01, zeros: 0, edges: 0 }, h, 10);
  assert.equal(stepHistograms(s, 10, h), null);
  assert.ok(stepHistograms(s, 10, { ...h, momentum: 0.9 }));
  assert.equal(stepHistograms(s, 0, { ...h, optimizer: 'adam' }), null, 'before the first step there is no update');
});
