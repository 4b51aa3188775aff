// WebAssembly SIMD kernels for one training step of the PyTorch tutorial CNN (AssemblyScript): the module's
// exports. One file a layer, forward and backward side by side, as the reference layers in sidecar/nn/ are:
// input.ts (normalise), conv1.ts, conv2.ts (each with its ReLU and max pool), linear.ts (fc1-fc3),
// crossEntropy.ts; net.ts chains them over a shard of samples; optim.ts holds Adam and SGD, rmsprop.ts RMSprop; layout.ts says where
// everything lives (the parameters' offsets are generated from sidecar/nn/spec.ts into parameters.ts).
//
// Built twice by scripts/build.mjs: with `--use RELAXED=1 --enable relaxed-simd` (fused multiply-add through
// f32x4.relaxed_madd) into dist/kernels-relaxed.wasm and with `--use RELAXED=0` into dist/kernels-simd.wasm.
//
// The module imports ONE shared memory; several worker threads instantiate it on the same memory at once.
// Therefore: no mutable globals, no allocation. Every buffer is passed as a byte offset (pointer); each
// worker passes its own scratch area (16-byte aligned, scratchBytes(maxCount) bytes) and its own gradient
// buffer. The only static data (read-only tables of Math.exp/log) lies below heapBase(); the caller places
// its own buffers at or above heapBase().
//
// Network: conv1 3->6 k5 (28x28), ReLU, maxpool 2 (14x14), conv2 6->16 k5 (10x10), ReLU, maxpool 2 (5x5),
// flatten (C,H,W) 400, fc1 400->120, ReLU, fc2 120->84, ReLU, fc3 84->10, softmax cross-entropy.
import { EVAL_CHUNK, FIXED, PER_SAMPLE } from './layout';
export { trainShard, evalShard, logitsShard } from './net';
export { adamStep, sgdStep } from './optim';
export { stepHistogram } from './stepHistogram';
export { rmspropStep } from './rmsprop';

/** Bytes below which the module's static data lives; put caller buffers at or above this (64-aligned). */
export function heapBase(): usize {
  return (__heap_base + 63) & ~<usize>63;
}

/** Scratch bytes one worker needs for shards of up to maxCount images (any count for eval/logits). */
export function scratchBytes(maxCount: i32): i32 {
  const n = max(maxCount, EVAL_CHUNK);
  return <i32>(FIXED + <usize>n * PER_SAMPLE);
}
