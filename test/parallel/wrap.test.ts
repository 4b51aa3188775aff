// Training tasks are numbered by int32 words in shared memory (layout.ts CTRL.claimed and CTRL.completed), which wrap
// after 2^31 tasks: about 30 hours of batch 4 on two workers (4 tasks a step, 5,000 steps a second). Before every
// comparison of two task numbers was made by their difference, the chunk that crossed 2^31 was never taken by a
// worker, and the run hung there. An engine whose tasks start just below 2^31 (EngineOptions.firstTask) must train the
// same numbers as one that starts at 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { session } from './helpers';

async function trace(workers: number, batchSize: number, firstTask: number): Promise<string[]> {
  const s = await session({ seed: 9, workers, batchSize }, { train: 256, test: 40, threads: { adaptThreads: false, watchLoad: false, firstTask } });
  const out: string[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      const chunk = await s.trainChunk(1 + (i % 4)); // up to 4 steps of at most 10 tasks (batch 32 on 2 workers): 2^31 is crossed within a few chunks
      out.push([...chunk.losses].join(','), [...chunk.correct].join(','));
      if (i % 4 === 3) {
        const e = await s.evaluate();
        out.push(`${e.testLoss},${e.testAccuracy}`);
      }
    }
    out.push(s.parametersSha256());
    if (firstTask > 0) assert.ok(s.engine.tasksCompleted < 0, `the task count wrapped (it reads ${s.engine.tasksCompleted})`);
  } finally {
    await s.close();
  }
  return out;
}

test('task numbers wrap past 2^31 without a hang or a changed number (2 and 3 workers, batch 4 and 32)', { timeout: 60_000 }, async () => {
  for (const [workers, batchSize] of [[2, 4], [3, 4], [2, 32]] as const) {
    const near = await trace(workers, batchSize, 2 ** 31 - 37);
    const from0 = await trace(workers, batchSize, 0);
    assert.deepEqual(near, from0, `${workers} workers, batch ${batchSize}`);
  }
});
