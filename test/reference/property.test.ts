// The engine against PyTorch on configurations drawn at random on every run: PyTorch (test/reference/make_reference.py,
// run now with Debian's python3-torch) writes reference vectors for each, and check-reference judges both engines,
// the WebAssembly kernels and the TypeScript reference layers, through the real worker-thread engine with 1 to 3
// workers. A failure prints the configuration and the two commands that reproduce it. PROPERTY_SEED=N replays a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReferenceFile, filePasses, type CheckResult } from '../../sidecar/commands/checkReference';
import { relaxedSimdSupported } from '../../sidecar/kernels/loader';
import { OPTIMIZERS } from '../../sidecar/protocol';
import { Rng } from '../../sidecar/rng';
import { tempDir } from '../store/helpers';
import { PYTHON, python } from '../support/system';

const GENERATOR = join(__dirname, 'make_reference.py');
const CONFIGURATIONS = 24;

interface Configuration {
  file: string;
  seed: number;
  optimizer: (typeof OPTIMIZERS)[number];
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  alpha: number;
  batchSize: number;
  steps: number;
  workers: number;
}

// Every optimizer PyTorch has too, SGD with and without Nesterov momentum, each about four times in 24. Adam without
// bias correction has no PyTorch counterpart: test/optim/ablations.test.ts checks it against its formula in float64.
const DRAWN = [...OPTIMIZERS.map((optimizer) => ({ optimizer, nesterov: false })), { optimizer: 'sgd' as const, nesterov: true }];

function draw(rng: Rng, i: number): Configuration {
  const logUniform = (lo: number, hi: number) => Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
  const { optimizer, nesterov } = DRAWN[i % DRAWN.length];
  // RMSprop's first steps are lr / sqrt(1 - alpha) in size: its learning rates are drawn a decade lower, as used.
  const rmsprop = optimizer === 'rmsprop';
  return {
    file: `config-${i}.json`,
    seed: rng.nextInt(100000),
    optimizer,
    learningRate: rmsprop ? logUniform(1e-5, 3e-3) : logUniform(1e-4, 3e-2),
    beta1: rng.uniform(0.5, 0.99),
    beta2: rng.uniform(0.9, 0.9999),
    epsilon: logUniform(1e-8, 1e-5),
    weightDecay: rng.nextInt(2) === 0 ? 0 : rng.uniform(0, 0.1),
    momentum: nesterov ? rng.uniform(0.01, 0.99) : rmsprop && rng.nextInt(2) === 0 ? 0 : rng.uniform(0, 0.99), // RMSprop's default is 0
    nesterov,
    alpha: rng.uniform(0.9, 0.999),
    batchSize: 1 + rng.nextInt(16),
    steps: 12,
    workers: 1 + rng.nextInt(3),
  };
}

/** PyTorch writes the reference vectors in one process per core (each single-threaded), every other configuration each. */
async function generate(configurations: Configuration[], dir: string): Promise<void> {
  const parts = Math.max(1, Math.min(availableParallelism(), 4, configurations.length));
  const results = await Promise.all(Array.from({ length: parts }, (_, p) => {
    const list = join(dir, `configs-${p}.json`);
    writeFileSync(list, JSON.stringify(configurations.filter((_, i) => i % parts === p), null, 1));
    return python([GENERATOR, '--configs', list, '--out-dir', dir], { OMP_NUM_THREADS: '1' });
  }));
  for (const r of results) assert.equal(r.code, 0, `PyTorch could not write the reference vectors:\n${r.stderr}`);
}

function describe(failed: CheckResult[]): string {
  return failed.map((r) => `  ${r.engine} ${r.check}: ${JSON.stringify(r.worst)}`).join('\n');
}

test(`both engines equal PyTorch on ${CONFIGURATIONS} configurations drawn at random`, { timeout: 300_000 }, async (t) => {
  const seed = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : randomInt(2 ** 31);
  const rng = new Rng(seed);
  const configurations = Array.from({ length: CONFIGURATIONS }, (_, i) => draw(rng, i));
  const dir = tempDir('adam-property-');
  await generate(configurations, dir);
  const failures: string[] = [];
  const rounding: string[] = [];
  for (const c of configurations) {
    const file = join(dir, c.file);
    const results = await checkReferenceFile(file, ['wasm', 'reference'], c.workers);
    // Every result that counts: first batch, each step from PyTorch's state, the float64 optimizer trajectory.
    const judged = results.filter((r) => r.counts !== false);
    for (const r of judged) if (r.withinGradientRounding) rounding.push(`${c.file} ${r.engine}: ${r.note}`);
    assert.ok(judged.some((r) => r.check.startsWith('training.teacher_forced.params')), 'the file carries single steps to judge');
    if (!filePasses(results)) {
      const { file: name, workers, ...flags } = c;
      failures.push(`PROPERTY_SEED=${seed}, ${name}: ${JSON.stringify({ ...flags, workers })}\n${describe(judged.filter((r) => !r.pass))}\n`
        + `  reproduce: echo '[${JSON.stringify(c)}]' > c.json && ${PYTHON} test/reference/make_reference.py --configs c.json --out-dir . `
        + `&& node bin/adam-trainer.js check-reference ${name} --workers ${workers}`);
    }
  }
  t.diagnostic(`PROPERTY_SEED=${seed}: ${rounding.length} result(s) with elements judged within gradient rounding${rounding.length ? `:\n${rounding.join('\n')}` : ''}`);
  assert.deepEqual(failures, [], `engine differs from PyTorch (PROPERTY_SEED=${seed}):\n${failures.join('\n')}`);
});

test('a single step that departs from PyTorch is caught, with the element, and the file fails', { timeout: 120_000 }, async () => {
  const dir = tempDir('adam-forced-');
  const c = { ...draw(new Rng(7), 0), optimizer: 'adam' as const, nesterov: false };
  await generate([c], dir);
  const file = join(dir, c.file);
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  const last = ref.training.teacher_forced.at(-1);
  const after = Buffer.from(last.paramsAfter, 'base64');
  const element = 50992 + 17; // fc2.weight[0][17]
  after.writeFloatLE(after.readFloatLE(element * 4) + 0.2 * c.learningRate, element * 4);
  last.paramsAfter = after.toString('base64');
  writeFileSync(file, JSON.stringify(ref));
  const results = await checkReferenceFile(file, ['wasm'], 2);
  const forced = results.find((r) => r.check.startsWith('training.teacher_forced.params'))!;
  assert.equal(forced.pass, false);
  const steps = ref.training.teacher_forced.length;
  assert.equal(forced.worst!.index, (steps - 1) * 62006 + element);
  assert.equal(filePasses(results), false);
});

test('with single steps to judge, the free-running trajectory is still shown, marked as not judged', { timeout: 120_000 }, async () => {
  const dir = tempDir('adam-forced-');
  const c = { ...draw(new Rng(11), 1) };
  await generate([c], dir);
  const file = join(dir, c.file);
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  ref.training.final_params['fc3.bias'][3] += 1; // the free-running result now fails
  writeFileSync(file, JSON.stringify(ref));
  const results = await checkReferenceFile(file, ['wasm'], 1);
  const final = results.find((r) => r.check.startsWith('training.final_params'))!;
  assert.equal(final.pass, false);
  assert.equal(final.counts, false);
  assert.match(final.note!, /teacher_forced/);
  assert.equal(filePasses(results), true);
  // Without the single steps, the same free-running failure fails the file, as it always has.
  delete ref.training.teacher_forced;
  writeFileSync(file, JSON.stringify(ref));
  const without = await checkReferenceFile(file, ['wasm'], 1);
  assert.equal(without.find((r) => r.check.startsWith('training.final_params'))!.counts, undefined);
  assert.equal(filePasses(without), false);
});

// PROPERTY_SEED=586369673's configuration 4, which failed before the file listed near ties: one pool2 window of the
// first batch has its two largest values 0.004 float32 rounding units apart, both engines sum conv2 in another order
// than PyTorch and pick the runner-up, and the gradient goes to another position (conv2.weight[1010] 2.2027e-4
// against PyTorch's 1.7314e-4). With the runner-up taken, PyTorch's own gradients match at the usual tolerances.
const NEAR_TIE = { file: 'near-tie.json', seed: 37330, optimizer: 'rmsprop' as const, learningRate: 0.0005379002539870883, beta1: 0.6669225704669952, beta2: 0.9623513561904431, epsilon: 0.0000058300418252309135, weightDecay: 0.023488134145736694, momentum: 0, nesterov: false, alpha: 0.9809499896764755, batchSize: 13, steps: 12, workers: 3 };

test('a max-pool window tied to float32 rounding is judged against PyTorch\'s own gradients with the runner-up winning, and only then', { timeout: 120_000 }, async () => {
  const dir = tempDir('adam-near-tie-');
  await generate([NEAR_TIE], dir);
  const file = join(dir, NEAR_TIE.file);
  const results = await checkReferenceFile(file, ['wasm', 'reference'], 3);
  assert.equal(filePasses(results), true, describe(results.filter((r) => !r.pass && r.counts !== false)));
  for (const engine of ['wasm', 'reference']) {
    const grads = results.find((r) => r.engine === engine && r.check === 'first_batch.grads')!;
    assert.equal(grads.pass, true);
    assert.match(grads.note ?? '', /pool2 window \(image 6, channel 3, row 4, column 1\), whose two largest values are 0\.0040 float32 rounding units apart/);
  }
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  // Without the alternatives, the same engines fail on the element the runner-up moves.
  const bare = structuredClone(ref);
  delete bare.first_batch.alternatives;
  writeFileSync(file, JSON.stringify(bare));
  const without = (await checkReferenceFile(file, ['wasm'], 1)).find((r) => r.check === 'first_batch.grads')!;
  assert.equal(without.pass, false);
  assert.equal(without.worst!.index, 1010);
  // A wrong main result stays wrong under every alternative: they are PyTorch's differences from it, not values.
  const wrong = structuredClone(ref);
  wrong.first_batch.grads['conv2.weight'][1010 - 456] *= 1.01;
  writeFileSync(file, JSON.stringify(wrong));
  const corrupted = (await checkReferenceFile(file, ['wasm'], 1)).find((r) => r.check === 'first_batch.grads')!;
  assert.equal(corrupted.pass, false);
  assert.equal(corrupted.worst!.index, 1010);
});

// PROPERTY_SEED=236566993's configuration 6, which failed in CI after the file listed near ties: a pool1 window of the
// first batch (image 5, channel 1, row 9, column 2) holds two values that are equal in PyTorch's float32, 0.20310447 at
// its top left (position 508, which max_pool2d picks, the first in scan order) and its bottom right (537); in float64
// the bottom right is larger by 1.1e-7. Both engines pick it, and conv1.weight[147] got 5.437e-4 against PyTorch's
// 5.872e-4. The file listed the tie, but took its runner-up as topk's second, and on this exact tie topk listed 537
// first and 508 second: the alternative swapped max_pool2d's pick for itself and changed nothing.
const EXACT_TIE = { file: 'exact-tie.json', seed: 85800, optimizer: 'adam' as const, learningRate: 0.0003058044576687249, beta1: 0.7464181107282639, beta2: 0.9091660121619701, epsilon: 7.086665478914698e-8, weightDecay: 0, momentum: 0.42570626199245454, nesterov: false, alpha: 0.9158955827951432, batchSize: 7, steps: 12, workers: 2 };

test('a max-pool window whose two largest values are equal in float32 is judged with the other one winning, not the winner again', { timeout: 120_000 }, async () => {
  const dir = tempDir('adam-exact-tie-');
  await generate([EXACT_TIE], dir);
  const file = join(dir, EXACT_TIE.file);
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  // 1.1e-7 apart in float64 (7 float32 rounding units of the values, 17 allowed): a near tie on any machine.
  const tie = ref.first_batch.near_ties.find((t: { kind?: string; layer: unknown; image: number; channel: number; y: number; x: number }) =>
    t.kind === undefined && t.layer === 1 && t.image === 5 && t.channel === 1 && t.y === 9 && t.x === 2);
  assert.ok(tie, `PyTorch's file lists the pool1 window as a near tie: ${JSON.stringify(ref.first_batch.near_ties)}`);
  const results = await checkReferenceFile(file, ['wasm', 'reference'], EXACT_TIE.workers);
  assert.equal(filePasses(results), true, describe(results.filter((r) => !r.pass && r.counts !== false)));
  // Whether the two are equal in float32 depends on the CPU's and the BLAS's summation order: on the machines this
  // project runs on (and where CI failed) they are, and max_pool2d picks the top left. Elsewhere the tie is judged
  // all the same, and the random ties of the next test check the runner-up on any machine.
  if (tie.gapInRoundingUnits === 0) {
    assert.equal(tie.runnerUp, 19 * 28 + 5, 'the runner-up is the tied value max_pool2d did not pick (its pick is 18 * 28 + 4)');
    for (const engine of ['wasm', 'reference']) {
      const grads = results.find((r) => r.engine === engine && r.check === 'first_batch.grads')!;
      assert.match(grads.note ?? '', /pool1 window \(image 5, channel 1, row 9, column 2\), whose two largest values are 0\.0 float32 rounding units apart/);
    }
    // Without the alternatives, both engines fail on conv1.weight[147], where the window's gradient went.
    const bare = structuredClone(ref);
    delete bare.first_batch.alternatives;
    writeFileSync(file, JSON.stringify(bare));
    for (const engine of ['wasm', 'reference'] as const) {
      const without = (await checkReferenceFile(file, [engine], 1)).find((r) => r.check === 'first_batch.grads')!;
      assert.equal(without.pass, false);
      assert.equal(without.worst!.index, 147);
    }
  } else {
    assert.ok([18 * 28 + 4, 19 * 28 + 5].includes(tie.runnerUp), `the runner-up is one of the two close values: ${JSON.stringify(tie)}`);
  }
});

test('every exactly tied max-pool window lists as its runner-up the largest value max_pool2d did not pick (random windows, thousands of ties)', { timeout: 60_000 }, async () => {
  // Values 0..3 drawn at random: most windows hold two equal largest values, which topk lists in either order. Each
  // magnitude sum is 1, so only exact ties are near ones (a gap of 1 is 2^23 rounding units).
  const seed = randomInt(2 ** 31);
  const code = `
import sys, json, torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[1]); import make_reference as mr
c = torch.randint(0, 4, (4, 6, 28, 28), generator=torch.Generator().manual_seed(int(sys.argv[2]))).float()
N, C, H, W = c.shape
ties = mr.pool_ties(1, c, torch.ones_like(c), 75)
picked = F.max_pool2d(c, 2, return_indices=True)[1]
windows = c.reshape(N, C, H // 2, 2, W // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4).sort(dim=-1, descending=True).values
exact = int(((windows[..., 0] == windows[..., 1]) & (windows[..., 0] > 0)).sum())
wrong = []
for t in ties:
    plane = c[t["image"], t["channel"]].flatten()
    pick = int(picked[t["image"], t["channel"], t["y"], t["x"]])
    cells = [(2 * t["y"] + dy) * W + 2 * t["x"] + dx for dy in (0, 1) for dx in (0, 1)]
    if t["runnerUp"] == pick or t["runnerUp"] not in cells or plane[t["runnerUp"]] != max(plane[p] for p in cells if p != pick):
        wrong.append({**t, "pick": pick})
print(json.dumps({"ties": len(ties), "exact": exact, "wrong": len(wrong), "first": wrong[:2]}))
`;
  const r = await python(['-c', code, __dirname, String(seed)]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.exact > 1000, `the draw has ties to judge (seed ${seed}): ${r.stdout}`);
  assert.equal(out.ties, out.exact, `every exact tie is listed, and only those (seed ${seed})`);
  assert.equal(out.wrong, 0, `runner-ups that are max_pool2d's own pick or not the largest of the rest (seed ${seed}): ${JSON.stringify(out.first)}`);
});

// PROPERTY_SEED=1383675686's configuration 23, which failed before the file listed ReLUs at zero as near ties: fc2's
// unit 7 on image 0 has the input 2.2e-8 in PyTorch's float32 (4.0e-8 in float64, from terms whose magnitudes sum to
// 0.52). The WebAssembly kernels' fused multiply-adds (relaxed SIMD) put it at or below zero, so that image's share of
// fc2.bias[7]'s gradient (-0.0039) was missing: 0.0108 against PyTorch's 0.0069. The kernels without fusion and the
// TypeScript layers find it on, as PyTorch does.
const RELU_TIE = { file: 'relu-tie.json', seed: 31610, optimizer: 'sgd' as const, learningRate: 0.0037612800361641117, beta1: 0.8725919097661972, beta2: 0.9557797750174999, epsilon: 1.5658305632776534e-7, weightDecay: 0, momentum: 0.8737526547908783, nesterov: true, alpha: 0.9048331346511841, batchSize: 7, steps: 12, workers: 3 };

test('a ReLU whose input is within float32 rounding of zero is judged against PyTorch\'s own gradients with it switched, and only then', { timeout: 120_000 }, async () => {
  assert.equal(relaxedSimdSupported(), true, 'this check is about the fused multiply-add kernels, which this Node.js should run');
  const dir = tempDir('adam-relu-tie-');
  await generate([RELU_TIE], dir);
  const file = join(dir, RELU_TIE.file);
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  const tie = ref.first_batch.near_ties.findIndex((t: { kind?: string; layer: unknown; index?: number[] }) => t.kind === 'relu' && t.layer === 'fc2' && t.index?.join() === '0,7');
  assert.ok(tie >= 0, `PyTorch's file lists fc2's unit 7 on image 0 as a near tie: ${JSON.stringify(ref.first_batch.near_ties)}`);
  const results = await checkReferenceFile(file, ['wasm', 'reference'], 3);
  assert.equal(filePasses(results), true, describe(results.filter((r) => !r.pass && r.counts !== false)));
  const wasm = results.find((r) => r.engine === 'wasm' && r.check === 'first_batch.grads')!;
  assert.match(wasm.note ?? '', /fc2's ReLU \(image 0, unit 7\) taken off, whose input is [\d.e-]+ float32 rounding units from zero/);
  // The TypeScript layers find it on, as PyTorch does: they match PyTorch's main result, with no note.
  assert.equal(results.find((r) => r.engine === 'reference' && r.check === 'first_batch.grads')!.note, undefined);
  // Without the alternatives, the fused kernels fail on fc2.bias[7], by that image's share.
  const fc2Bias7 = 50992 + 84 * 120 + 7;
  const bare = structuredClone(ref);
  delete bare.first_batch.alternatives;
  writeFileSync(file, JSON.stringify(bare));
  const without = (await checkReferenceFile(file, ['wasm'], 1)).find((r) => r.check === 'first_batch.grads')!;
  assert.equal(without.pass, false);
  assert.equal(without.worst!.index, fc2Bias7);
  // A wrong main result stays wrong under every alternative.
  const wrong = structuredClone(ref);
  wrong.first_batch.grads['fc2.bias'][7] += 1e-3;
  writeFileSync(file, JSON.stringify(wrong));
  const corrupted = (await checkReferenceFile(file, ['wasm'], 1)).find((r) => r.check === 'first_batch.grads')!;
  assert.equal(corrupted.pass, false);
  assert.equal(corrupted.worst!.index, fc2Bias7);
});

// PROPERTY_SEED=1125464023's configuration 20, which failed before the file carried each step's gradient rounding:
// fc2.weight[52][55] has m = v = vMax = 0 at step 1 and a gradient of 9.7e-10 in PyTorch's float32 (1.9e-8 in
// float64 from the same inputs), so AMSGrad's step is set by rounding; the engines moved it 0.26 lr further than
// PyTorch, past the tolerance of 0.05 lr.
const GRADIENT_NOISE = { file: 'gradient-noise.json', seed: 39245, optimizer: 'amsgrad' as const, learningRate: 0.02609444713378019, beta1: 0.544454755783081, beta2: 0.9170882653892041, epsilon: 1.6192358641903774e-8, weightDecay: 0, momentum: 0.07069265484809875, nesterov: false, alpha: 0.9487057737708092, batchSize: 9, steps: 12, workers: 3 };

test('a step set by a gradient within float32 rounding passes only as the optimizer\'s own step on such a gradient', { timeout: 180_000 }, async () => {
  const dir = tempDir('adam-gradient-noise-');
  await generate([GRADIENT_NOISE], dir);
  const file = join(dir, GRADIENT_NOISE.file);
  const element = 50992 + 52 * 120 + 55; // fc2.weight[52][55]
  const forcedParams = (results: CheckResult[]) => results.find((r) => r.check.startsWith('training.teacher_forced.params'))!;
  const results = await checkReferenceFile(file, ['wasm', 'reference'], 3);
  assert.equal(filePasses(results), true, describe(results.filter((r) => !r.pass && r.counts !== false)));
  for (const engine of ['wasm', 'reference']) {
    const r = results.find((x) => x.engine === engine && x.check.startsWith('training.teacher_forced.params'))!;
    assert.equal(r.pass, true);
    assert.deepEqual(r.withinGradientRounding?.map((a) => a.index), [element], `${engine}: ${r.note}`);
    // PyTorch's value there is rounding noise, and which noise depends on the BLAS's kernels for the CPU: 9.7e-10 on
    // the machine that found it, -7.3e-8 on an AMD EPYC with OpenBLAS 0.3.21. Either way it lies within its own bound.
    const m = /fc2\.weight\[52\]\[55\] at step 1 \(PyTorch's gradient (\S+), its rounding bound (\S+);/.exec(r.note!);
    assert.ok(m, r.note);
    assert.ok(Math.abs(Number(m[1])) <= Number(m[2]), `PyTorch's gradient ${m[1]} lies within its rounding bound ${m[2]}`);
  }
  const ref = JSON.parse(readFileSync(file, 'utf8'));
  const step1 = ref.training.teacher_forced[0];
  assert.equal(step1.step, 1);
  const edited = (edit: (f: typeof step1) => void) => {
    const copy = structuredClone(ref);
    edit(copy.training.teacher_forced[0]);
    writeFileSync(file, JSON.stringify(copy));
  };
  const setFloat = (b64: string, value: number) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes.writeFloatLE(value, element * 4);
    return bytes.toString('base64');
  };
  // Without the bounds, the same engine fails on that element, as it did.
  edited((f) => { delete f.grads; delete f.gradRounding; });
  const bare = forcedParams(await checkReferenceFile(file, ['wasm'], 3));
  assert.equal(bare.pass, false);
  assert.equal(bare.worst!.index, element);
  // A bound of zero there: the element fails.
  edited((f) => { f.gradRounding = setFloat(f.gradRounding, 0); });
  assert.equal(forcedParams(await checkReferenceFile(file, ['wasm'], 3)).pass, false);
  // A gradient well above its bound (1e-3): AMSGrad's step from zero state is then about lr, which the engine's step,
  // made on the real gradient, is not. The bound admits only steps the optimizer takes on gradients inside it.
  edited((f) => { f.grads = setFloat(f.grads, 1e-3); });
  const far = forcedParams(await checkReferenceFile(file, ['wasm'], 3));
  assert.equal(far.pass, false);
  assert.equal(far.worst!.index, element);
  // PyTorch's own value there moved by 2 lr, outside every step the optimizer takes on such gradients: the element fails.
  edited((f) => {
    const after = Buffer.from(f.paramsAfter, 'base64');
    after.writeFloatLE(after.readFloatLE(element * 4) + 2 * GRADIENT_NOISE.learningRate, element * 4);
    f.paramsAfter = after.toString('base64');
  });
  const moved = forcedParams(await checkReferenceFile(file, ['wasm'], 3));
  assert.equal(moved.pass, false);
  assert.equal(moved.worst!.index, element);
  // A bound that is not a number or is negative is a clear error, not a pass.
  edited((f) => { f.gradRounding = setFloat(f.gradRounding, -1); });
  await assert.rejects(checkReferenceFile(file, ['wasm'], 3), /gradRounding\[57287\] must be a bound \(>= 0\), got -1/);
});
