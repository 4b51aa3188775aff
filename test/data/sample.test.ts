import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Header } from 'tar';
import { gzipSync } from 'node:zlib';
import { extractSample, extractSampleSync, MAX_SAMPLE_ARCHIVE_BYTES, sampleArchive } from '../../sidecar/data/sample';
import { rejectsWith, tempDir } from './helpers';

const ROOT = join(__dirname, '..', '..');
const sha16 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);

// An uncompressed tar of the given entries, made as scripts/pack-sample.mjs makes the sample's.
function tarOf(entries: Array<{ path: string; type?: 'File' | 'SymbolicLink' | 'Directory'; body?: Buffer; linkpath?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    const h = new Header({ path: e.path, type: e.type ?? 'File', size: body.length, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath });
    h.encode();
    parts.push(h.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const image = (path: string) => ({ path, body: Buffer.from('not decoded here') });

test('the sample is extracted once, into sample-<its SHA-256 prefix>, with no temporary folder left', async (t) => {
  const cacheDir = tempDir(t);
  const folder = await extractSample(cacheDir);
  assert.equal(folder, join(cacheDir, `sample-${sha16(sampleArchive())}`));
  assert.equal(readdirSync(join(folder, 'train', 'cat')).length, 300);
  assert.equal(readdirSync(join(folder, 'test', 'truck')).length, 100);
  const made = statSync(folder).mtimeMs;
  assert.equal(extractSampleSync(cacheDir), folder);
  assert.equal(statSync(folder).mtimeMs, made);
  assert.deepEqual(readdirSync(cacheDir), [`sample-${sha16(sampleArchive())}`]);
});

test('two extractions at once end with the same single folder', async (t) => {
  const cacheDir = tempDir(t);
  const [a, b] = await Promise.all([extractSample(cacheDir), extractSample(cacheDir)]);
  assert.equal(a, b);
  assert.deepEqual(readdirSync(cacheDir), [`sample-${sha16(sampleArchive())}`]);
});

test('pack-sample.mjs packs the extracted sample back into data/sample.tar.gz, byte for byte', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'again.tar.gz');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'pack-sample.mjs'), await extractSample(join(dir, 'cache')), out]);
  assert.ok(readFileSync(out).equals(readFileSync(sampleArchive())));
});

test('a gzipped archive that inflates past the bound is refused, and nothing of it is kept', async (t) => {
  const dir = tempDir(t);
  const archive = join(dir, 'sample.tar.gz');
  writeFileSync(archive, gzipSync(Buffer.alloc(MAX_SAMPLE_ARCHIVE_BYTES + 1), { level: 9 })); // 65 KB that inflates to 64 MiB
  const cacheDir = join(dir, 'cache');
  await rejectsWith(extractSample(cacheDir, archive), 'bad_dataset', `the built-in sample ${archive} is damaged`);
  assert.ok(!existsSync(cacheDir) || readdirSync(cacheDir).length === 0, 'nothing extracted');
});

for (const [what, entry] of [
  ['a path with ..', image('train/cat/../../../escaped.jpg')],
  ['an absolute path', image('/tmp/escaped.jpg')],
  ['a symbolic link', { path: 'train/cat/0001.jpg', type: 'SymbolicLink' as const, linkpath: '/etc/passwd' }],
  ['a file outside train/ and test/', image('evil.sh')],
  ['a file larger than an image can be', { path: 'train/cat/0001.jpg', body: Buffer.alloc((4 << 20) + 1) }],
] as const) {
  test(`a tar holding ${what} is refused and nothing of it is kept`, async (t) => {
    const dir = tempDir(t);
    const archive = join(dir, 'sample.tar');
    writeFileSync(archive, tarOf([image('train/cat/0000.jpg'), image('test/cat/0000.jpg'), entry]));
    const cacheDir = join(dir, 'cache');
    await rejectsWith(extractSample(cacheDir, archive), 'bad_dataset', `the built-in sample ${archive} is damaged`);
    assert.throws(() => extractSampleSync(cacheDir, archive), /is damaged/);
    assert.deepEqual(readdirSync(cacheDir), []);
    assert.ok(!existsSync(join(dir, 'escaped.jpg')) && !existsSync('/tmp/escaped.jpg'));
  });
}
