// Finds, compiles and instantiates the WebAssembly SIMD kernels (sidecar/kernels/assembly/index.ts, built by
// scripts/build.mjs into dist/kernels-relaxed.wasm and dist/kernels-simd.wasm).
//
// The module imports one shared WebAssembly.Memory as env.memory and keeps no state of its own: every
// worker thread may instantiate the same Module on the same memory and call the kernels concurrently as
// long as each passes its own scratch area (see KernelExports.scratchBytes) and its own gradient buffer.
//
// Relaxed SIMD (fused multiply-add) needs V8's --experimental-wasm-relaxed-simd on Node 20. A Worker's
// execArgv refuses that flag, but v8.setFlagsFromString on the MAIN thread before any module is compiled
// works, and worker threads started afterwards inherit it. So: call relaxedSimdSupported() on the main
// thread first, before starting workers; compile once there (compileKernels) and hand the
// WebAssembly.Module to workers through workerData / postMessage (Modules are cloneable), or let each
// worker compile with the same `relaxed` choice.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as v8 from 'node:v8';

/** Pointers are byte offsets into the shared memory. params, grads, m, v, vmax, momentum buffers and scratch
 *  must be 16-byte aligned (64 recommended); images, labels, indices, stats, predictions and out need only
 *  their element alignment (indices/stats/predictions 4 bytes). A worker must not share its scratch or its
 *  grads buffer with another worker calling at the same time; params, images and labels are only read. */
export interface KernelExports {
  /** Bytes below which the module keeps its static data (read-only Math tables, rewritten with the same bytes by
   *  every instantiation); put buffers at or above. 64-aligned (currently 7,168). */
  heapBase(): number;
  /** Scratch bytes one worker needs for trainShard shards of up to maxCount images: 54,432 + 61,216 * max(maxCount, 4)
   *  (299,296 for 2, 1,033,888 for 16). evalShard/logitsShard work in chunks of 4 images and accept any count with
   *  the same scratch. */
  scratchBytes(maxCount: number): number;
  /** Forward + backward over `count` images (dataset indices: i32 at `indices`). OVERWRITES `grads` (62,006 f32)
   *  with sum of per-sample gradients * invBatch; returns the sum of per-sample losses; writes the number of
   *  correct predictions (i32) at `stats`. */
  trainShard(params: number, grads: number, images: number, labels: number, indices: number, count: number,
    invBatch: number, scratch: number, stats: number): number;
  /** Forward only; returns the sum of losses; writes each image's argmax class (i32) to predictions[i]. */
  evalShard(params: number, images: number, labels: number, indices: number, count: number, scratch: number,
    predictions: number): number;
  /** Forward only; writes count*10 f32 logits to out. */
  logitsShard(params: number, images: number, indices: number, count: number, scratch: number, out: number): void;
  /** PyTorch 1.13 Adam over parameter indices [start, end). flags: 1 = AdamW (decoupled decay), 2 = AMSGrad.
   *  g = sum over k < numGradBuffers of the f32 buffer at gradsBase + k*gradStrideBytes (in order k); with
   *  gradStrideBytes 0, gradsBase is an i32 table of the buffers' byte offsets (the same for sgdStep and rmspropStep). */
  adamStep(params: number, gradsBase: number, gradStrideBytes: number, numGradBuffers: number, m: number, v: number,
    vmax: number, start: number, end: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, biasCorrection1: number, biasCorrection2: number, flags: number): void;
  /** PyTorch 1.13 SGD (dampening 0) over [start, end); firstStep 1 initialises the momentum buffer; nesterov 1 is
   *  PyTorch's nesterov=True. */
  sgdStep(params: number, gradsBase: number, gradStrideBytes: number, numGradBuffers: number, momentumBuf: number,
    start: number, end: number, lr: number, momentum: number, weightDecay: number, firstStep: number, nesterov: number): void;
  /** PyTorch 1.13 RMSprop (centered=False) over [start, end); momentumBuf used only when momentum != 0. */
  rmspropStep(params: number, gradsBase: number, gradStrideBytes: number, numGradBuffers: number, momentumBuf: number,
    squareAverage: number, start: number, end: number, lr: number, alpha: number, eps: number, momentum: number,
    weightDecay: number): void;
  /** The step histograms of parameter indices [start, end) in float32, added into two i32 count arrays (see
   *  kernels/assembly/stepHistogram.ts and kernels/stepHistograms.ts, which lays out its tables). */
  stepHistogram(params: number, m: number, v: number, start: number, end: number, lr: number, eps: number,
    biasCorrection1: number, sqrtBiasCorrection2: number, decoupled: number, sgd: number,
    effectiveTable: number, effectiveEdges: number, effectiveEdgeCount: number, effectiveCounts: number,
    ratioTable: number, ratioEdges: number, ratioEdgeCount: number, ratioCounts: number): void;
}

export const ADAM_FLAG_ADAMW = 1;
export const ADAM_FLAG_AMSGRAD = 2;
/** Maximum memory (pages) the modules declare for env.memory; the shared Memory must not declare more. */
export const KERNEL_MAX_MEMORY_PAGES = 16384;

/** dist/kernels-{relaxed,simd}.wasm: next to this file when bundled into dist/, else <repo>/dist (tsx). */
export function kernelWasmPath(relaxed: boolean): string {
  const name = relaxed ? 'kernels-relaxed.wasm' : 'kernels-simd.wasm';
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', 'dist', name), join(__dirname, '..', 'dist', name)];
  for (const p of candidates) if (existsSync(p)) return p;
  throw new Error(`kernel module ${name} not found (looked in ${candidates.join(', ')}); run \`node scripts/build.mjs\``);
}

// (module (func (result v128) v128.const 0 ... v128.const 0 ... v128.const 0 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // function 0 of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: 1 body of 59 bytes, no locals
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0x105)
  0x0b,
]);

let relaxedCache: boolean | undefined;

/** True when this V8 accepts relaxed SIMD. Sets --experimental-wasm-relaxed-simd first if needed; that only takes
 *  effect on the main thread before workers start (and before the first relaxed compile), so call it early there. */
export function relaxedSimdSupported(): boolean {
  if (relaxedCache !== undefined) return relaxedCache;
  if (!WebAssembly.validate(RELAXED_PROBE)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // ignore: the feature test below decides
    }
  }
  relaxedCache = WebAssembly.validate(RELAXED_PROBE);
  return relaxedCache;
}

/** Synchronous compile (usable in workers). Throws if relaxed is requested but unsupported. */
export function compileKernels(relaxed: boolean): WebAssembly.Module {
  if (relaxed && !relaxedSimdSupported()) throw new Error('relaxed SIMD is not supported by this Node.js/V8');
  return new WebAssembly.Module(readFileSync(kernelWasmPath(relaxed)));
}

/** Instantiates on a shared memory (new WebAssembly.Memory({initial, maximum <= 16384, shared: true})). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error('kernel abort');
      },
    },
  });
  return instance.exports as unknown as KernelExports;
}

/** First byte the caller may use (static data ends below it); 64-byte aligned. */
export function heapBase(exports: KernelExports): number {
  return exports.heapBase() >>> 0;
}
