// The engine against PyTorch's reference vectors (a copy of shared/reference in test/fixtures), on the
// WebAssembly kernels and on the TypeScript reference layers, through the real worker-thread engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { checkReferenceFile } from '../../sidecar/commands/checkReference';
import { runText } from '../commands/helpers';

const FIXTURE = join(__dirname, '..', 'fixtures', 'cnn-adam-pytorch.json');

test('logits, loss, gradients, 20 Adam steps and the float64 Adam trajectory match PyTorch on both engines', async () => {
  const results = await checkReferenceFile(FIXTURE, ['wasm', 'reference'], 2);
  assert.equal(results.length, 11);
  for (const r of results) assert.ok(r.pass, `${r.engine} ${r.check}: ${JSON.stringify(r.worst)}`);
});

test('the check can fail: a reference with one gradient nudged past tolerance is reported, with the element', async () => {
  const ref = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const g = ref.first_batch.grads['fc2.weight'];
  const data: number[] = Array.isArray(g) ? g : g.data;
  data[17] += 1e-3;
  const file = join(tmpdir(), `nudged-reference-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(ref));
  const results = await checkReferenceFile(file, ['wasm'], 1);
  const grads = results.find((r) => r.check === 'first_batch.grads')!;
  assert.equal(grads.pass, false);
  assert.equal(grads.worst!.index, 50992 + 17);
  const cli = await runText(['check-reference', file, '--engine', 'wasm']);
  assert.equal(cli.code, 1);
  const out = JSON.parse(cli.stdout.trim().split('\n')[0]);
  assert.equal(out.pass, false);
});
