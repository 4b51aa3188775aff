// One loaded copy of each dataset per process, shared by every run that trains on it. The kernels read images
// through byte offsets into the one WebAssembly.Memory they are instantiated on (Node 20 has no multi-memory), so
// sharing the data means sharing the memory: each dataset gets its own arena, loaded once at its bottom, and every
// engine of a run on that data allocates its parameters, gradients, optimizer state and scratch above it, in a scope
// it gives back when it closes (parallel/arena.ts). Leases are counted; the last one released drops the arena, and
// with it the memory, once the engines' threads are gone (reclaim.ts makes V8 let go of it soon after).
//
// The key is the data's identity as found on disk before loading (resolveDataset: the folder's real path and
// every file's name, size and modification time), so different data, or a folder changed since, never shares.
// A second run of the same data while the first still loads waits for that load and hears its progress.

import { SharedArena } from '../parallel/arena';
import { reclaimSoon } from './reclaim';
import type { Dataset, LoadContext, Progress, ResolvedDataset } from './types';

export interface DatasetLease {
  readonly arena: SharedArena;
  readonly dataset: Dataset;
  /** Idempotent. Call after the engine that uses the arena is closed. */
  release(): void;
}

export interface AcquireHooks {
  onProgress?: (p: Progress) => void;
  notice?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PooledDataset {
  source: string;
  runs: number; // leases held
  bytes: number; // the arena's memory: the dataset and the engines of its runs
}

interface Entry {
  key: string;
  refs: number;
  arena: SharedArena;
  loading: Promise<Dataset>;
  dataset: Dataset | null;
  listeners: Set<AcquireHooks>;
  abort: AbortController;
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

export class DatasetPool {
  private readonly entries = new Map<string, Entry>();
  private loadCount = 0;
  /** Where the pool says what it loads and frees (serve points it at stderr). */
  log: (line: string) => void = () => undefined;

  async acquire(resolved: ResolvedDataset, hooks: AcquireHooks = {}): Promise<DatasetLease> {
    hooks.signal?.throwIfAborted();
    const entry = this.entries.get(resolved.key) ?? this.startLoad(resolved);
    entry.refs++;
    entry.listeners.add(hooks);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.listeners.delete(hooks);
      this.unref(entry);
    };
    try {
      const dataset = await untilAborted(entry.loading, hooks.signal);
      entry.listeners.delete(hooks);
      return { arena: entry.arena, dataset, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Datasets held now, and how many loads this process has made. */
  stats(): { loads: number; datasets: PooledDataset[] } {
    const datasets = [...this.entries.values()]
      .filter((e) => e.dataset)
      .map((e) => ({ source: e.dataset!.source, runs: e.refs, bytes: e.arena.memory.buffer.byteLength }));
    return { loads: this.loadCount, datasets };
  }

  private startLoad(resolved: ResolvedDataset): Entry {
    const abort = new AbortController();
    const arena = new SharedArena();
    const listeners = new Set<AcquireHooks>();
    const ctx: LoadContext = {
      allocate: (bytes) => arena.allocU8(bytes).view,
      onProgress: (p) => { for (const l of listeners) l.onProgress?.(p); },
      notice: (line) => { for (const l of listeners) l.notice?.(line); },
      signal: abort.signal,
    };
    this.loadCount++;
    const entry: Entry = {
      key: resolved.key,
      refs: 0,
      arena,
      dataset: null,
      listeners,
      abort,
      loading: resolved.load(ctx).then(
        (dataset) => {
          entry.dataset = dataset;
          this.log(`loaded ${dataset.source} into shared memory (${mb(arena.used)}); runs of the same data share it (load ${this.loadCount} of this process)`);
          return dataset;
        },
        (e: unknown) => {
          // A failed load is not kept: the next run of this data tries again.
          if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
          throw e;
        },
      ),
    };
    entry.loading.catch(() => undefined); // awaited by every acquirer; this only keeps a lone rejection quiet
    this.entries.set(entry.key, entry);
    return entry;
  }

  private unref(entry: Entry): void {
    entry.refs--;
    if (entry.refs > 0) return;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (!entry.dataset) {
      entry.abort.abort(new Error('no run wants this dataset any more'));
      return;
    }
    this.log(`released ${entry.dataset.source} (${mb(entry.arena.memory.buffer.byteLength)}): no run uses it`);
    reclaimSoon();
  }
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The process's pool: runs in one sidecar (or one `compare`) share their data through it. */
export const datasetPool = new DatasetPool();
