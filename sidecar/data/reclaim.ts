// Giving a released dataset's memory back to the system. A WebAssembly.Memory is freed only when V8 collects it,
// and an idle sidecar allocates nothing that would prompt a collection: measured, the 180 MB of CIFAR-10 stayed
// resident for over a minute after the last run on it ended. So when the pool drops a dataset it asks for one full
// collection, a moment later (the releasing call chain still holds the session), once per release. `gc` is
// exposed the way `node --expose-gc` would, from the main thread; where that is refused the memory is left to
// V8's own schedule, which frees it later.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

const RECLAIM_DELAY_MS = 1000;

let gc: (() => void) | null | undefined;

function exposedGc(): (() => void) | null {
  if (gc !== undefined) return gc;
  gc = (globalThis as { gc?: () => void }).gc ?? null;
  if (!gc && isMainThread) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

let pending: NodeJS.Timeout | null = null;

/** Collects once, soon, so that memory just released goes back to the system; several calls make one collection. */
export function reclaimSoon(): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    exposedGc()?.();
  }, RECLAIM_DELAY_MS);
  pending.unref();
}
