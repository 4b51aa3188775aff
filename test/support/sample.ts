// The shipped sample's images as a folder, for tests that use real CIFAR-10 JPEGs as fixtures: data/sample.tar.gz
// extracted once per test process, by the product's own extraction (sidecar/data/sample.ts), into a temp
// folder removed when the process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractSampleSync } from '../../sidecar/data/sample';

let folder: string | undefined;

/** DIR with DIR/train/<class>/0000.jpg .. 0299.jpg and DIR/test/<class>/0000.jpg .. 0099.jpg. Read only. */
export function sampleImages(): string {
  if (folder === undefined) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'adam-sample-'));
    process.on('exit', () => rmSync(cacheDir, { recursive: true, force: true }));
    folder = extractSampleSync(cacheDir);
  }
  return folder;
}
