import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PARAMETERS } from '../../sidecar/nn/spec';
import { exportSafetensors } from '../../sidecar/store/safetensors';
import { sampleState, tempDir } from './helpers';
import { PYTHON } from '../support/system';

/** A reader written from the format's description, independent of the writer. */
function readSafetensors(buf: Buffer): { metadata?: Record<string, string>; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + headerLength));
  const base = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === '__metadata__') continue;
    assert.equal(info.dtype, 'F32');
    const [begin, end] = info.data_offsets;
    const data = new Float32Array((end - begin) / 4);
    for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(base + begin + i * 4);
    tensors.set(name, { shape: info.shape, data });
  }
  return { metadata: header.__metadata__, tensors };
}

test('exported safetensors hold every parameter under its state_dict name and shape', () => {
  const dir = tempDir();
  const out = join(dir, 'net.safetensors');
  const { params } = sampleState();
  exportSafetensors(params, out, { runId: 'r1', step: '250' });
  const buf = readFileSync(out);
  const headerLength = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0, 'the header is padded to a multiple of 8');
  const { metadata, tensors } = readSafetensors(buf);
  assert.deepEqual(metadata, { runId: 'r1', step: '250' });
  assert.deepEqual([...tensors.keys()], PARAMETERS.map((p) => p.name));
  for (const p of PARAMETERS) {
    const t = tensors.get(p.name)!;
    assert.deepEqual(t.shape, p.shape);
    assert.deepEqual(t.data, params.subarray(p.offset, p.offset + p.size));
  }
  assert.equal(buf.length, 8 + headerLength + params.length * 4);
  assert.deepEqual(readdirSync(dir), ['net.safetensors']);
});

// Python with numpy, which `npm test` installs or asks for first; a missing one fails the test, never skips it.
test('Python (numpy) reads the export into the same tensors', () => {
  const dir = tempDir();
  const out = join(dir, 'net.safetensors');
  const { params } = sampleState();
  exportSafetensors(params, out);
  const script = `
import json, struct, sys, numpy as np
try:
    from safetensors.numpy import load_file
    t = load_file(sys.argv[1])
except ImportError:
    raw = open(sys.argv[1], 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop('__metadata__', None)
    t = {k: np.frombuffer(raw[8 + n + v['data_offsets'][0]: 8 + n + v['data_offsets'][1]], dtype='<f4').reshape(v['shape']) for k, v in header.items()}
print(json.dumps({k: [list(v.shape), float(v.astype(np.float64).sum()), float(v.flat[0])] for k, v in t.items()}))
`;
  const r = spawnSync(PYTHON, ['-c', script, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  for (const p of PARAMETERS) {
    const slice = params.subarray(p.offset, p.offset + p.size);
    let sum = 0;
    for (const x of slice) sum += x;
    assert.deepEqual(got[p.name][0], p.shape);
    assert.ok(Math.abs(got[p.name][1] - sum) < 1e-9 * Math.max(1, Math.abs(sum)), p.name);
    assert.equal(got[p.name][2], slice[0]);
  }
});
