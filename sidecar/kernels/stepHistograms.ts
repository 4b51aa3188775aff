// The step histograms through the WebAssembly kernel (kernels/assembly/stepHistogram.ts), for the main thread
// between chunks: its bin tables, edges and counts laid out once in the run's shared memory, and one kernel call a
// layer over the parameters and moments already there. The same histograms as optim/stepHistogram.ts computes in
// float64 JavaScript (the reference engine's path), but in float32 and about ten times faster; values within
// float32 rounding of a bin edge may land on the other side of it (tested against the float64 definition).
import { LAYER_NAMES, PARAMETERS } from '../nn/spec';
import { biasCorrectionsOf, type OptimizerHyperparameters } from '../optim/hyperparameters';
import type { OptimizerState } from '../optim/stats';
import { hasStepHistograms, type StepCounts } from '../optim/stepHistogram';
import { binCount, binEdges, EFFECTIVE_STEP_BINS, UPDATE_RATIO_BINS, type LogBins } from '../optim/stepBins';
import type { ArenaAllocator } from '../parallel/arena';
import type { KernelExports } from './loader';

/** A float32's exponent and top 4 mantissa bits (bits >>> 19): the kernel's table index. */
const TABLE_SIZE = 1 << 13;

interface BinTables {
  table: number; // byte offsets in the shared memory
  edges: number;
  edgeCount: number;
}

/** Lays out one bin scheme for the kernel: float32 edges, and per table slot the bin of the slot's smallest value. */
function layOut(arena: ArenaAllocator, bins: LogBins): BinTables {
  const edges64 = binEdges(bins);
  const n = edges64.length;
  const edges = arena.allocF32(n);
  for (let k = 0; k < n; k++) edges.view[k] = edges64[k];
  const table = arena.allocU8(TABLE_SIZE);
  const probe = new Float32Array(1);
  const probeBits = new Uint32Array(probe.buffer);
  for (let key = 0; key < TABLE_SIZE; key++) {
    probeBits[0] = key << 19;
    const x = probe[0];
    let bin = 0;
    if (x !== x) bin = n; // NaN: overflow, as binIndex
    else while (bin < n && x >= edges.view[bin]) bin++;
    table.view[key] = bin;
  }
  return { table: table.offset, edges: edges.offset, edgeCount: n };
}

export class WasmStepHistograms {
  private readonly effective: BinTables;
  private readonly ratio: BinTables;
  private readonly counts: Array<{ layer: string; start: number; end: number; effective: { offset: number; view: Int32Array }; ratio: { offset: number; view: Int32Array } }>;

  constructor(
    private readonly kernels: KernelExports,
    private readonly arena: ArenaAllocator, // the run's scope of its dataset's arena: freed with the run
  ) {
    this.effective = layOut(arena, EFFECTIVE_STEP_BINS);
    this.ratio = layOut(arena, UPDATE_RATIO_BINS);
    this.counts = LAYER_NAMES.map((layer) => {
      const mine = PARAMETERS.filter((p) => p.layer === layer); // a layer's parameters are contiguous
      const e = arena.alloc(binCount(EFFECTIVE_STEP_BINS) * 4);
      const r = arena.alloc(binCount(UPDATE_RATIO_BINS) * 4);
      return {
        layer,
        start: mine[0].offset,
        end: mine[mine.length - 1].offset + mine[mine.length - 1].size,
        effective: { offset: e, view: arena.i32(e, binCount(EFFECTIVE_STEP_BINS)) },
        ratio: { offset: r, view: arena.i32(r, binCount(UPDATE_RATIO_BINS)) },
      };
    });
  }

  /** As optim/stepHistogram.ts stepHistograms; `state`'s arrays must live in this arena's memory. */
  compute(state: OptimizerState, step: number, h: OptimizerHyperparameters): StepCounts | null {
    if (step < 1 || !hasStepHistograms(h)) return null;
    for (const a of [state.params, state.m, state.v, state.vMax]) if (a.buffer !== this.arena.memory.buffer && !(a.buffer instanceof SharedArrayBuffer)) throw new Error('the optimizer state is not in shared memory');
    const sgd = h.optimizer === 'sgd';
    const second = h.optimizer === 'amsgrad' ? state.vMax : state.v;
    const { biasCorrection1, biasCorrection2 } = biasCorrectionsOf(h, step);
    const out: StepCounts = {};
    for (const c of this.counts) {
      c.effective.view.fill(0);
      c.ratio.view.fill(0);
      this.kernels.stepHistogram(
        state.params.byteOffset, state.m.byteOffset, second.byteOffset, c.start, c.end,
        h.learningRate, h.epsilon, biasCorrection1, Math.sqrt(biasCorrection2),
        h.optimizer === 'adamw' ? h.learningRate * h.weightDecay : 0, sgd ? 1 : 0,
        this.effective.table, this.effective.edges, this.effective.edgeCount, c.effective.offset,
        this.ratio.table, this.ratio.edges, this.ratio.edgeCount, c.ratio.offset,
      );
      out[c.layer] = sgd ? { updateRatio: Int32Array.from(c.ratio.view) } : { effectiveStep: Int32Array.from(c.effective.view), updateRatio: Int32Array.from(c.ratio.view) };
    }
    return out;
  }
}
