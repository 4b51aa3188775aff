// Runs every test/**/*.test.ts with node's own test runner (TypeScript through tsx). The end-to-end suite
// lives in test/e2e and runs with `npm run test:e2e`, not here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'e2e' && name !== 'fixtures') find(p, out); }
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
let files = find(join(root, 'test')).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter', 'spec', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
