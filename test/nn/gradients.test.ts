// Finite-difference gradient checks of every reference layer and of the whole net, in float64 so the
// comparison is tight: central differences of the summed loss against the analytic backward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conv2dBackward, conv2dForward } from '../../sidecar/nn/conv2d';
import { linearBackward, linearForward } from '../../sidecar/nn/linear';
import { maxPoolBackward, maxPoolForward } from '../../sidecar/nn/maxpool';
import { reluBackward, reluForward } from '../../sidecar/nn/relu';
import { softmaxCrossEntropy } from '../../sidecar/nn/crossEntropy';
import { ReferenceNet } from '../../sidecar/nn/net';
import { initParameters } from '../../sidecar/nn/init';
import { PARAMETERS, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { Rng } from '../../sidecar/rng';

const rng = new Rng(7);
const rand = (n: number, scale = 1) => Float64Array.from({ length: n }, () => rng.uniform(-scale, scale));

/** Checks d(sum(out * probe))/d(x) numerically against `analytic` at a few sampled coordinates. */
function checkGradient(name: string, x: Float64Array, f: () => number, analytic: Float64Array, samples = 25, h = 1e-5): void {
  let worst = 0;
  for (let s = 0; s < samples; s++) {
    const i = rng.nextInt(x.length);
    const saved = x[i];
    x[i] = saved + h;
    const up = f();
    x[i] = saved - h;
    const down = f();
    x[i] = saved;
    const numeric = (up - down) / (2 * h);
    const err = Math.abs(numeric - analytic[i]) / Math.max(1e-6, Math.abs(numeric) + Math.abs(analytic[i]));
    worst = Math.max(worst, err);
  }
  assert.ok(worst < 1e-5, `${name}: worst relative error ${worst}`);
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

test('conv2d backward matches finite differences for weight, bias and input', () => {
  const shape = { inChannels: 3, outChannels: 4, kernel: 5, inSize: 9 };
  const B = 2, Ho = 5;
  const x = rand(B * 3 * 81), w = rand(4 * 3 * 25, 0.3), b = rand(4), probe = rand(B * 4 * Ho * Ho);
  const out = new Float64Array(B * 4 * Ho * Ho);
  const loss = () => { conv2dForward(shape, B, x, w, b, out); return dot(out, probe); };
  const gw = new Float64Array(w.length), gb = new Float64Array(4), gx = new Float64Array(x.length);
  conv2dBackward(shape, B, x, w, probe, gw, gb, gx);
  checkGradient('conv weight', w, loss, gw);
  checkGradient('conv bias', b, loss, gb);
  checkGradient('conv input', x, loss, gx);
});

test('linear backward matches finite differences', () => {
  const B = 3, I = 7, O = 5;
  const x = rand(B * I), w = rand(O * I), b = rand(O), probe = rand(B * O);
  const y = new Float64Array(B * O);
  const loss = () => { linearForward(B, I, O, x, w, b, y); return dot(y, probe); };
  const gw = new Float64Array(w.length), gb = new Float64Array(O), gx = new Float64Array(x.length);
  linearBackward(B, I, O, x, w, probe, gw, gb, gx);
  checkGradient('linear weight', w, loss, gw);
  checkGradient('linear bias', b, loss, gb);
  checkGradient('linear input', x, loss, gx);
});

test('max-pool and ReLU route the gradient to the winners only', () => {
  const planes = 2, size = 6;
  const x = rand(planes * size * size), probe = rand(planes * 9);
  const y = new Float64Array(planes * 9), idx = new Int32Array(planes * 9);
  const loss = () => { const t = Float64Array.from(x); reluForward(t, t.length); maxPoolForward(planes, size, t, y, idx); return dot(y, probe); };
  loss();
  const relu = Float64Array.from(x); reluForward(relu, relu.length);
  maxPoolForward(planes, size, relu, y, idx);
  const gx = new Float64Array(x.length);
  maxPoolBackward(planes, size, probe, idx, gx);
  reluBackward(relu, gx, gx.length);
  checkGradient('pool+relu input', x, loss, gx, 40, 1e-7);
  assert.equal(gx.filter((g) => g !== 0).length <= planes * 9, true);
});

test('softmax cross-entropy gradient matches finite differences and its loss is -log p', () => {
  const B = 3, C = 10;
  const z = rand(B * C, 3), labels = [1, 7, 3];
  const g = new Float64Array(B * C);
  const loss = () => softmaxCrossEntropy(B, C, z, labels, 1, null).lossSum / B;
  softmaxCrossEntropy(B, C, z, labels, 1 / B, g);
  checkGradient('cross-entropy logits', z, loss, g);
  const uniform = new Float64Array(C);
  assert.ok(Math.abs(softmaxCrossEntropy(1, C, uniform, [4], 1, null).lossSum - Math.log(10)) < 1e-12);
});

test('the whole net: gradients of the batch-mean loss match finite differences for every parameter tensor', () => {
  // float32 network: use a larger step and a looser bound, sampling each parameter tensor.
  const B = 3;
  const net = new ReferenceNet(B);
  const params = new Float32Array(PARAMETER_COUNT);
  initParameters(params, 3);
  const images = Uint8Array.from({ length: B * 3072 }, () => rng.nextInt(256));
  const labels = Uint8Array.from([2, 5, 9]);
  const idx = Int32Array.from([0, 1, 2]);
  const grads = new Float32Array(PARAMETER_COUNT);
  const scratch = new Float32Array(PARAMETER_COUNT);
  net.trainShard(params, grads, images, labels, idx, B, 1 / B);
  const lossAt = () => net.trainShard(params, scratch, images, labels, idx, B, 1 / B).lossSum / B;
  let checked = 0;
  for (const p of PARAMETERS) {
    for (let s = 0; s < 6; s++) {
      const i = p.offset + rng.nextInt(p.size);
      const saved = params[i];
      const h = 1e-2 * Math.max(Math.abs(saved), 0.05);
      params[i] = saved + h; const up = lossAt();
      params[i] = saved - h; const down = lossAt();
      params[i] = saved;
      const numeric = (up - down) / (2 * h);
      if (Math.abs(numeric) < 1e-4 && Math.abs(grads[i]) < 1e-4) continue; // below float32 resolution
      assert.ok(Math.abs(numeric - grads[i]) <= 2e-3 + 0.05 * Math.abs(numeric), `${p.name}[${i - p.offset}]: numeric ${numeric} vs analytic ${grads[i]}`);
      checked++;
    }
  }
  assert.ok(checked >= 30, `only ${checked} of 60 sampled gradients were large enough to check`);
});
