// A training worker thread. It waits on the shared control block for a command from the engine; for a
// training chunk it runs, step after step: forward/backward on its shard of the batch, a barrier, the
// optimizer on its own slice of the parameters (summing every worker's gradients), a barrier. The last
// worker to arrive at the first barrier adds up the step's loss and adopts hyperparameter edits, so all
// workers use the same values for the same step.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels, heapBase } from '../kernels/loader';
import { ARENA_BASE } from './arena';
import { referenceBackend, wasmBackend, type Backend, type StepHyper } from './backend';
import { CTRL, COMMAND, HYPER, MAX_CHUNK_STEPS, split, type EngineLayout } from './layout';
import { biasCorrection, OPTIMIZERS } from '../optim/hyperparameters';

export interface WorkerInit {
  index: number;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module | null; // null: the TypeScript reference layers
  layout: EngineLayout;
  spinIterations: number;
}

class Aborted extends Error {}

function run(init: WorkerInit): void {
  const { index, memory, layout: L } = init;
  const W = L.workers;
  const buf = memory.buffer;
  const ctrl = new Int32Array(buf, L.control, CTRL.size);
  const pending = new Float64Array(buf, L.pendingHyper, HYPER.size);
  const active = new Float64Array(buf, L.activeHyper, HYPER.size);
  const results = new Float64Array(buf, L.results, W * 2);
  const stepLoss = new Float64Array(buf, L.stepLoss, MAX_CHUNK_STEPS);
  const stepCorrect = new Int32Array(buf, L.stepCorrect, MAX_CHUNK_STEPS);
  const scratchTable = new Int32Array(buf, L.scratchTable, W);
  const stats = new Int32Array(buf, L.stats, W * 4);
  const statsPtr = L.stats + index * 16;
  let backend: Backend;
  if (init.module) {
    const k = instantiateKernels(init.module, memory);
    if (heapBase(k) > ARENA_BASE) throw new Error(`kernels' static data (${heapBase(k)} bytes) overlaps the arena at ${ARENA_BASE}`);
    backend = wasmBackend(k);
  } else {
    backend = referenceBackend(memory, L.parameterCount, () => Atomics.load(ctrl, CTRL.scratchCapacity));
  }
  const spin = init.spinIterations;
  const paramStart = split(L.parameterCount, W, index, 4);
  const paramEnd = split(L.parameterCount, W, index + 1, 4);
  const myGrads = L.grads + index * L.gradStrideBytes;
  const hyper: StepHyper = { learningRate: 0, beta1: 0, beta2: 0, epsilon: 0, weightDecay: 0, momentum: 0, optimizer: 'adam', biasCorrection1: 1, biasCorrection2: 1, step: 0 };
  let generation = 0;

  // Spin briefly, then sleep: at batch 4 a step is a few hundred microseconds, shorter than a futex round trip.
  const waitWhile = (slot: number, value: number) => {
    for (let i = 0; Atomics.load(ctrl, slot) === value; i++) {
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, slot, value, 50);
    }
  };

  /** All workers meet; the last to arrive runs `last` before anyone goes on. */
  const barrier = (last?: () => void) => {
    generation++;
    const arrived = Atomics.add(ctrl, CTRL.arrive, 1) + 1;
    if (arrived === generation * W) {
      if (last) last();
      Atomics.store(ctrl, CTRL.release, generation);
      Atomics.notify(ctrl, CTRL.release);
      return;
    }
    for (let i = 0; Atomics.load(ctrl, CTRL.release) < generation; i++) {
      if (Atomics.load(ctrl, CTRL.abort) !== 0) throw new Aborted();
      if (i >= spin) Atomics.wait(ctrl, CTRL.release, generation - 1, 50);
    }
  };

  const adoptHyper = (step: number) => {
    const version = Atomics.load(ctrl, CTRL.hyperVersion);
    if ((version & 1) === 0 && version !== Atomics.load(ctrl, CTRL.appliedVersion)) {
      for (let i = 0; i < HYPER.size; i++) active[i] = pending[i];
      // A torn read is impossible: the main thread bumps the version before and after writing.
      if (Atomics.load(ctrl, CTRL.hyperVersion) === version) {
        Atomics.store(ctrl, CTRL.appliedVersion, version);
        Atomics.store(ctrl, CTRL.appliedAtStep, step);
      }
    }
  };

  const trainChunk = () => {
    const steps = Atomics.load(ctrl, CTRL.chunkSteps);
    const startStep = Atomics.load(ctrl, CTRL.chunkStartStep);
    const cursor0 = Atomics.load(ctrl, CTRL.chunkCursor);
    const B = Atomics.load(ctrl, CTRL.batchSize);
    const lo = split(B, W, index);
    const hi = split(B, W, index + 1);
    const scratch = scratchTable[index];
    const invBatch = 1 / B;
    for (let s = 0; s < steps; s++) {
      const t = startStep + s + 1;
      const indices = L.permutation + (cursor0 + s * B + lo) * 4;
      results[index * 2] = backend.trainShard(L.params, myGrads, L.trainImages, L.trainLabels, indices, hi - lo, invBatch, scratch, statsPtr);
      results[index * 2 + 1] = stats[index * 4];
      barrier(() => {
        let loss = 0;
        let correct = 0;
        for (let k = 0; k < W; k++) { loss += results[k * 2]; correct += results[k * 2 + 1]; }
        stepLoss[s] = loss / B;
        stepCorrect[s] = correct;
        adoptHyper(t);
      });
      hyper.learningRate = active[HYPER.learningRate];
      hyper.beta1 = active[HYPER.beta1];
      hyper.beta2 = active[HYPER.beta2];
      hyper.epsilon = active[HYPER.epsilon];
      hyper.weightDecay = active[HYPER.weightDecay];
      hyper.momentum = active[HYPER.momentum];
      hyper.optimizer = OPTIMIZERS[active[HYPER.optimizer]];
      hyper.biasCorrection1 = biasCorrection(hyper.beta1, t);
      hyper.biasCorrection2 = biasCorrection(hyper.beta2, t);
      hyper.step = t;
      backend.optimizerSlice(hyper, L.params, L.grads, L.gradStrideBytes, W, L.m, L.v, L.vMax, paramStart, paramEnd);
      barrier();
    }
  };

  const evaluate = () => {
    const n = Atomics.load(ctrl, CTRL.evalCount);
    const lo = split(n, W, index);
    const hi = split(n, W, index + 1);
    const cap = Math.max(1, Atomics.load(ctrl, CTRL.scratchCapacity));
    const scratch = scratchTable[index];
    let loss = 0;
    for (let i = lo; i < hi; i += cap) {
      const count = Math.min(cap, hi - i);
      loss += backend.evalShard(L.params, L.testImages, L.testLabels, L.testIndices + i * 4, count, scratch, L.predictions + i * 4);
    }
    results[index * 2] = loss;
  };

  let seen = Atomics.load(ctrl, CTRL.commandSeq);
  parentPort!.postMessage({ type: 'ready' });
  for (;;) {
    try {
      waitWhile(CTRL.commandSeq, seen);
    } catch (e) {
      if (e instanceof Aborted) return;
      throw e;
    }
    seen = Atomics.load(ctrl, CTRL.commandSeq);
    const command = Atomics.load(ctrl, CTRL.command);
    if (command === COMMAND.exit) return;
    generation = 0;
    try {
      if (command === COMMAND.train) trainChunk();
      else if (command === COMMAND.evaluate) evaluate();
    } catch (e) {
      if (e instanceof Aborted) return;
      throw e;
    }
    if (Atomics.add(ctrl, CTRL.done, 1) + 1 === W) Atomics.notify(ctrl, CTRL.done);
  }
}

if (parentPort && workerData) {
  const init = workerData as WorkerInit;
  try {
    run(init);
  } catch (e) {
    // Tell the others to stop waiting for us before the thread dies; the engine reports which worker and why.
    const ctrl = new Int32Array(init.memory.buffer, init.layout.control, CTRL.size);
    Atomics.store(ctrl, CTRL.failedWorker, init.index + 1);
    Atomics.store(ctrl, CTRL.abort, 1);
    Atomics.notify(ctrl, CTRL.release);
    Atomics.notify(ctrl, CTRL.done);
    throw e;
  }
}
