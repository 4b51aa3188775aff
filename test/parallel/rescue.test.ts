// A thread that another program takes off its core in the middle of a shard (forward/backward) task: a thread that
// waited for it too long computes the shard as well, and the first to finish wins it (sidecar/parallel/worker.ts
// `rescue`). The owner comes back later and drops its result, and its buffer stays its own until it is done. Which
// thread wins never changes a number: the run's losses, evaluations and parameters are those of a run without stops,
// bit for bit. The stops here are the engine's test hook (EngineOptions.stall): worker `worker` sleeps in every
// `every`-th shard it claims, in turn before and after computing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { OPTIMIZERS } from '../../sidecar/optim/hyperparameters';
import type { StallOptions } from '../../sidecar/parallel/worker';
import type { EngineKind } from '../../sidecar/session';
import { session } from './helpers';

interface Case {
  engine: EngineKind;
  workers: number;
  batchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  augment: 'none' | 'flip-crop';
  seed: number;
}

async function trace(c: Case, threads: { stall?: StallOptions; firstTask?: number; rescue?: boolean | ((chunk: number) => boolean); rescueAfterShards?: number }, chunks = 12): Promise<{ out: string[]; rescues: number; taken: number }> {
  const s = await session(
    { seed: c.seed, workers: c.workers, batchSize: c.batchSize, optimizer: c.optimizer, augment: c.augment },
    // A fixed thread count: the governor never changes a number, but it would change which threads run.
    { engine: c.engine, train: 256, test: 40, threads: { adaptThreads: false, watchLoad: false, rescue: true, ...threads } },
  );
  const out: string[] = [];
  try {
    for (let i = 0; i < chunks; i++) {
      const chunk = await s.trainChunk(1 + (i % 4));
      out.push([...chunk.losses].join(','), [...chunk.correct].join(','));
      if (i % 4 === 3) {
        const e = await s.evaluate();
        out.push(`${e.testLoss},${e.testAccuracy}`);
      }
    }
    out.push(s.parametersSha256());
    return { out, rescues: s.engine.rescues, taken: s.engine.rescuesTaken };
  } finally {
    await s.close();
  }
}

test('a worker stopped in its shards: the others take them on, and the run\'s numbers are those without stops, bit for bit (random configurations, both engines)', { timeout: 300_000 }, async () => {
  const rescued: Array<{ engine: EngineKind; rescues: number }> = [];
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        engine: fc.constantFrom<EngineKind>('wasm', 'wasm', 'reference'),
        workers: fc.integer({ min: 2, max: 3 }),
        batchSize: fc.constantFrom(4, 5, 8, 13, 32),
        optimizer: fc.constantFrom(...OPTIMIZERS),
        augment: fc.constantFrom<'none' | 'flip-crop'>('none', 'flip-crop'),
        seed: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({ worker: fc.integer({ min: 0, max: 2 }), every: fc.integer({ min: 1, max: 4 }), ms: fc.integer({ min: 2, max: 6 }) }),
      // How long a waiting thread waits before it takes a shard on, in its own shards' time (0: as soon as it stops
      // spinning; the default, 1.5; 3).
      fc.constantFrom(0, 0.5, 1.5, 3),
      async (c, stall, after) => {
        stall.worker %= c.workers;
        const calm = await trace(c, {});
        const stopped = await trace(c, { stall, rescueAfterShards: after });
        assert.deepEqual(stopped.out, calm.out, `${JSON.stringify(c)} stopped ${JSON.stringify(stall)}, rescue after ${after} shards`);
        assert.ok(stopped.taken >= stopped.rescues, `shards taken on ${stopped.taken}, won ${stopped.rescues}`);
        rescued.push({ engine: c.engine, rescues: stopped.rescues });
      },
    ),
    { numRuns: 12 },
  );
  // With the kernels a shard takes well under a millisecond, so a stop of 2-6 ms is a wait long enough for the others
  // to take its shard on, and win it, in every run. (The reference layers take milliseconds a shard, so there a stop
  // may end before a waiting thread gives up on it: those runs check the numbers only.)
  const wasm = rescued.filter((r) => r.engine === 'wasm').map((r) => r.rescues);
  assert.ok(wasm.length > 0 && wasm.every((n) => n > 0), `shards won for a stopped worker, per run with the kernels: ${wasm}`);
});

test('chunks that rescue and chunks that wait, in any order, with a worker stopped in its shards: the numbers of a run without stops, bit for bit', { timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        engine: fc.constant<EngineKind>('wasm'),
        workers: fc.integer({ min: 2, max: 3 }),
        batchSize: fc.constantFrom(4, 8, 32),
        optimizer: fc.constantFrom(...OPTIMIZERS),
        augment: fc.constantFrom<'none' | 'flip-crop'>('none', 'flip-crop'),
        seed: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      fc.record({ worker: fc.integer({ min: 0, max: 2 }), every: fc.integer({ min: 1, max: 3 }), ms: fc.integer({ min: 2, max: 5 }) }),
      async (c, modes, stall) => {
        stall.worker %= c.workers;
        const calm = await trace(c, { rescue: false });
        // A chunk that waits after one that rescued finds the shards' buffers swapped, and its threads must write the
        // ones the table lists; a chunk that rescues after one that waited finds a worker still in a held shard.
        const mixed = await trace(c, { stall, rescue: (chunk) => modes[chunk % modes.length] });
        assert.deepEqual(mixed.out, calm.out, `${JSON.stringify(c)} modes ${modes.map(Number).join('')} stopped ${JSON.stringify(stall)}`);
      },
    ),
    { numRuns: 8 },
  );
});

test('task numbers wrap past 2^31 without a hang or a changed number', { timeout: 60_000 }, async () => {
  for (const batchSize of [4, 32]) {
    const c: Case = { engine: 'wasm', workers: 2, batchSize, optimizer: 'adam', augment: 'none', seed: 9 };
    const from0 = await trace(c, {});
    // 12 chunks of up to 4 steps of up to 10 tasks: the numbers pass 2^31 - 1 in the first few chunks.
    const nearWrap = await trace(c, { firstTask: 2 ** 31 - 37 });
    const stoppedNearWrap = await trace(c, { firstTask: 2 ** 31 - 37, stall: { worker: 1, every: 2, ms: 3 } });
    assert.deepEqual(nearWrap.out, from0.out, `batch ${batchSize}`);
    assert.deepEqual(stoppedNearWrap.out, from0.out, `batch ${batchSize}, a worker stopped`);
    assert.ok(stoppedNearWrap.rescues > 0);
  }
});

test('by default a run rescues in the chunks it trains while another program keeps a core busy', { timeout: 60_000 }, async () => {
  // The default: the load meter (freeCores.ts) reads the cores other programs keep busy between chunks, and a chunk
  // rescues when that is at least RESCUE_LOAD. A real process keeps a core busy here.
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  try {
    const s = await session({ seed: 3, workers: 2, batchSize: 4 }, { train: 4096, test: 40 });
    try {
      const t0 = performance.now();
      while (performance.now() - t0 < 2500) await s.trainChunk(16);
      assert.ok(s.engine.rescueChunks > 0, `chunks that rescued with a core busy: ${s.engine.rescueChunks}`);
    } finally {
      await s.close();
    }
  } finally {
    busy.kill('SIGKILL');
  }
});
