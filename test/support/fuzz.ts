// Fuzzing with fast-check (README, "Dependencies"): each property runs a few hundred cases in `npm test`, from a fixed
// seed so the suite is never flaky, and 10,000 cases from a fresh seed in `npm run bench:fuzz` (bench/fuzz.mjs sets
// FUZZ_RUNS and FUZZ_SEED and prints the seed, so a failure it finds is replayed with the same two variables).
import assert from 'node:assert/strict';
import { UserError } from '../../sidecar/errors';
import { ERROR_CODES } from '../../sidecar/protocol';

const FIXED_SEED = 20260101;

export function fuzzOptions(runs = 300): { numRuns: number; seed: number; endOnFailure: true } {
  return { numRuns: Number(process.env.FUZZ_RUNS ?? runs), seed: Number(process.env.FUZZ_SEED ?? FIXED_SEED), endOnFailure: true };
}

/** A case must take less than this: anything slower is a hang in the making (a loop on input, an unbounded read). */
export const CASE_MS = 2000;

/** Runs `work`: it either returns, or throws a UserError with a protocol error code (one of `codes` if given). */
export function returnsOrRefuses<T>(work: () => T, codes?: readonly string[]): T | UserError {
  const started = performance.now();
  let result: T | UserError;
  try {
    result = work();
  } catch (e) {
    if (!(e instanceof UserError)) throw new Error(`threw something other than a UserError: ${(e as Error)?.stack ?? e}`);
    assert.ok((ERROR_CODES as readonly string[]).includes(e.code), `unknown error code ${e.code}`);
    if (codes) assert.ok(codes.includes(e.code), `error code ${e.code}, expected one of ${codes.join(', ')}: ${e.message}`);
    assert.ok(e.message.length > 0);
    result = e;
  }
  const ms = performance.now() - started;
  assert.ok(ms < CASE_MS, `a case took ${ms.toFixed(0)} ms`);
  return result;
}

/** returnsOrRefuses for async work. */
export async function resolvesOrRefuses<T>(work: () => Promise<T>, codes?: readonly string[]): Promise<T | UserError> {
  const started = performance.now();
  let result: T | UserError;
  try {
    result = await work();
  } catch (e) {
    if (!(e instanceof UserError)) throw new Error(`rejected with something other than a UserError: ${(e as Error)?.stack ?? e}`);
    assert.ok((ERROR_CODES as readonly string[]).includes(e.code), `unknown error code ${e.code}`);
    if (codes) assert.ok(codes.includes(e.code), `error code ${e.code}, expected one of ${codes.join(', ')}: ${e.message}`);
    result = e;
  }
  const ms = performance.now() - started;
  assert.ok(ms < CASE_MS, `a case took ${ms.toFixed(0)} ms`);
  return result;
}
