// Packs the built-in CIFAR-10 sample's image folder (train/<class>/*.jpg, test/<class>/*.jpg) into one
// gzipped tar, data/sample.tar.gz, so the .vsix carries one file instead of 4,000 (1.3 MB: the JPEGs' headers
// repeat). Deterministic: files only, sorted by path, with a fixed mtime, mode, uid and gid and no
// owner names, so packing the same images again gives the same bytes (and the same SHA-256, which names
// the folder the sidecar extracts it into: sidecar/data/sample.ts).
//
//   node scripts/pack-sample.mjs [SRC_DIR] [OUT_FILE]    (default: data/sample, data/sample.tar.gz)

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Header } from 'tar';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = resolve(process.argv[2] ?? join(root, 'data', 'sample'));
const out = resolve(process.argv[3] ?? join(root, 'data', 'sample.tar.gz'));
const MTIME = new Date('2020-01-01T00:00:00Z');
const BLOCK = 512;

// Every regular file under SRC/train and SRC/test, dotfiles skipped, as 'train/cat/0000.jpg'.
function listFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) found.push(...listFiles(path));
    else if (st.isFile()) found.push(relative(src, path).split('\\').join('/'));
  }
  return found;
}

const files = ['train', 'test'].flatMap((split) => listFiles(join(src, split)));
// Code-unit order, not locale order, so every machine packs the same sequence.
files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) throw new Error(`no images under ${src}/train or ${src}/test`);

const parts = [];
for (const path of files) {
  const body = readFileSync(join(src, path));
  const header = new Header({ path, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: body.length, mtime: MTIME, type: 'File' });
  header.encode();
  if (header.needPax) throw new Error(`${path}: the name is too long for a plain ustar header`);
  parts.push(header.block, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
}
parts.push(Buffer.alloc(2 * BLOCK)); // the end-of-archive marker
// gzip's header carries no name or time here (Node writes mtime 0), so the same images give the same bytes.
const tarball = gzipSync(Buffer.concat(parts), { level: 9 });
writeFileSync(out, tarball);
const sha256 = createHash('sha256').update(tarball).digest('hex');
process.stdout.write(`wrote ${out}: ${files.length} files, ${tarball.length.toLocaleString('en-US')} bytes, sha256 ${sha256}\n`);
