// The shapes every loader in this folder fills. They live apart from index.ts so the loaders can share
// them without importing the entry point that imports them.

import { IMAGE_BYTES } from '../nn/spec';

// images: count * 3,072 bytes in CIFAR-10's own order (C, H, W: 1,024 R, 1,024 G, 1,024 B per image), so the
// official binary records copy straight in and the engine normalises (x / 127.5 - 1) when it draws a batch.
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  train: Split;
  test: Split;
  source: string; // for people: "CIFAR-10 binary at /x", "image folder /y (cached)", "built-in sample (…)"
}

// A dataset found and checked but not loaded: `key` is its identity (the same key, the same bytes), so runs of the
// same data can share one load (pool.ts).
export interface ResolvedDataset {
  key: string;
  load(ctx: LoadContext): Promise<Dataset>;
}

// The engine passes an allocator that places the bytes in shared WebAssembly memory, which cannot be freed:
// so each split is allocated exactly once, at its final size, and filled in place.
export type Allocate = (bytes: number) => Uint8Array;

export interface Progress {
  phase: 'download' | 'extract' | 'decode';
  done: number;
  total: number;
}

// What a loader needs from LoadOptions, with the defaults already applied.
export interface LoadContext {
  allocate: Allocate;
  onProgress: (p: Progress) => void;
  notice: (line: string) => void;
  signal?: AbortSignal;
}

export const defaultAllocate: Allocate = (bytes) => new Uint8Array(bytes);

// Both halves of a split come from the allocator: the engine may want the labels in shared memory too.
export function allocateSplit(count: number, allocate: Allocate): Split {
  const images = allocate(count * IMAGE_BYTES);
  const labels = allocate(count);
  if (images.length !== count * IMAGE_BYTES || labels.length !== count) {
    throw new Error(`allocator returned ${images.length} and ${labels.length} bytes for ${count} images`);
  }
  return { images, labels, count };
}

// Loading 60,000 files must not freeze the sidecar's server (pings, other clients): give the event loop a
// turn now and then, and stop there when asked to.
export function yieldToEventLoop(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      if (signal?.aborted) reject(signal.reason);
      else resolve();
    }),
  );
}
