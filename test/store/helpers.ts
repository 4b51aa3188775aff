// Shared by the store and service tests: temporary folders and a TrainingState with recognisable numbers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { resolveConfig } from '../../sidecar/protocol';
import type { TrainingState } from '../../sidecar/store/state';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits (hooks would end it with the test that made it). */
export function tempDir(prefix = 'adam-trainer-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * A state a run can have written (the checkpoint reader refuses any other): whatever step is asked for, the cursor
 * and the loss count fit it.
 */
export function sampleState(overrides: Partial<TrainingState> = {}): TrainingState {
  const step = overrides.step ?? 250;
  const params = new Float32Array(PARAMETER_COUNT);
  const m = new Float32Array(PARAMETER_COUNT);
  const v = new Float32Array(PARAMETER_COUNT);
  for (let i = 0; i < PARAMETER_COUNT; i++) {
    params[i] = Math.sin(i) * 0.1;
    m[i] = Math.cos(i) * 1e-3;
    v[i] = (i % 97) * 1e-7;
  }
  const permutation = new Uint32Array(1000);
  for (let i = 0; i < permutation.length; i++) permutation[i] = (i * 7919) % permutation.length;
  return {
    runId: '20260101-000000-abcdef',
    config: resolveConfig({ data: 'sample', maxSteps: 40 }, 2),
    step,
    epoch: 0,
    cursor: Math.min(1000, step),
    rng: [1, 2, 3, 0xffffffff],
    permutation,
    params,
    m,
    v,
    vMax: new Float32Array(PARAMETER_COUNT),
    lossSum: 123.456789,
    lossCount: Math.min(50, step),
    ...overrides,
  };
}
