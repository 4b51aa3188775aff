// What a worker computes with: the WebAssembly SIMD kernels (the fast path), or the plain TypeScript
// reference layers (the slow path, used where WebAssembly SIMD is missing and by tests that compare the
// two). Both work on the shared memory through byte offsets.
import { ADAM_FLAG_ADAMW, ADAM_FLAG_AMSGRAD, type KernelExports } from '../kernels/loader';
import type { OptimizerHyperparameters } from '../optim/hyperparameters';
import { ReferenceNet } from '../nn/net';
import { adamStep } from '../optim/adam';
import { rmspropStep } from '../optim/rmsprop';
import { sgdStep } from '../optim/sgd';

/** The values one step uses: the run's hyperparameters plus what the step number makes of them. */
export interface StepHyper extends OptimizerHyperparameters {
  biasCorrection1: number; // 1 when h.biasCorrection is false
  biasCorrection2: number;
  step: number; // t, 1-based
}

export interface Backend {
  scratchBytes(capacity: number): number;
  /** Returns the shard's summed loss; writes its correct count into the stats slot. */
  trainShard(params: number, grads: number, images: number, labels: number, indices: number, count: number, invBatch: number, scratch: number, stats: number): number;
  evalShard(params: number, images: number, labels: number, indices: number, count: number, scratch: number, predictions: number): number;
  /** The optimizer over parameters [start, end), its gradient the sum of `numGrads` buffers at grads + k * gradStrideBytes,
   *  or, with gradStrideBytes 0, at the byte offsets listed by the Int32 table at `grads`; in order k. */
  optimizerSlice(h: StepHyper, params: number, grads: number, gradStrideBytes: number, numGrads: number, m: number, v: number, vMax: number, start: number, end: number): void;
}

export function wasmBackend(k: KernelExports): Backend {
  return {
    // The exports themselves: a wrapper with rest arguments would allocate an array on every step.
    scratchBytes: k.scratchBytes,
    trainShard: k.trainShard,
    evalShard: k.evalShard,
    optimizerSlice(h, params, grads, stride, numGrads, m, v, vMax, start, end) {
      if (h.optimizer === 'sgd') {
        k.sgdStep(params, grads, stride, numGrads, m, start, end, h.learningRate, h.momentum, h.weightDecay, h.step === 1 ? 1 : 0, h.nesterov ? 1 : 0);
      } else if (h.optimizer === 'rmsprop') {
        k.rmspropStep(params, grads, stride, numGrads, m, v, start, end, h.learningRate, h.alpha, h.epsilon, h.momentum, h.weightDecay);
      } else {
        const flags = (h.optimizer === 'adamw' ? ADAM_FLAG_ADAMW : 0) | (h.optimizer === 'amsgrad' ? ADAM_FLAG_AMSGRAD : 0);
        k.adamStep(params, grads, stride, numGrads, m, v, vMax, start, end, h.learningRate, h.beta1, h.beta2, h.epsilon, h.weightDecay, h.biasCorrection1, h.biasCorrection2, flags);
      }
    },
  };
}

export function referenceBackend(memory: WebAssembly.Memory, parameterCount: number, maxCount: () => number): Backend {
  let net: ReferenceNet | null = null;
  const sum = new Float32Array(parameterCount);
  const f32 = (o: number, n: number) => new Float32Array(memory.buffer, o, n);
  const ensureNet = () => {
    const need = Math.max(1, maxCount());
    if (!net || net.maxCount < need) net = new ReferenceNet(need);
    return net;
  };
  return {
    scratchBytes: () => 64,
    trainShard(params, grads, images, labels, indices, count, invBatch, _scratch, stats) {
      const buf = memory.buffer;
      const r = ensureNet().trainShard(f32(params, parameterCount), f32(grads, parameterCount), new Uint8Array(buf, images), new Uint8Array(buf, labels), new Int32Array(buf, indices, count), count, invBatch);
      new Int32Array(buf, stats, 1)[0] = r.correct;
      return r.lossSum;
    },
    evalShard(params, images, labels, indices, count, _scratch, predictions) {
      const buf = memory.buffer;
      return ensureNet().evalShard(f32(params, parameterCount), new Uint8Array(buf, images), new Uint8Array(buf, labels), new Int32Array(buf, indices, count), count, new Int32Array(buf, predictions, count));
    },
    optimizerSlice(h, params, grads, stride, numGrads, m, v, vMax, start, end) {
      for (let i = start; i < end; i++) sum[i] = 0;
      const table = stride === 0 ? new Int32Array(memory.buffer, grads, numGrads) : null;
      for (let k = 0; k < numGrads; k++) {
        const g = f32(table ? table[k] : grads + k * stride, parameterCount);
        for (let i = start; i < end; i++) sum[i] += g[i];
      }
      const p = f32(params, parameterCount);
      if (h.optimizer === 'sgd') {
        sgdStep(p, sum, f32(m, parameterCount), h.step === 1, h, start, end);
      } else if (h.optimizer === 'rmsprop') {
        rmspropStep(p, sum, f32(m, parameterCount), f32(v, parameterCount), h, start, end);
      } else {
        adamStep(p, sum, f32(m, parameterCount), f32(v, parameterCount), f32(vMax, parameterCount), h.step, h, start, end);
      }
    },
  };
}

