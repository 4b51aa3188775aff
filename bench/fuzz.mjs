// npm run bench:fuzz: the fuzz properties of `npm test` (the checkpoint reader, the dataset readers and the image
// decoder, every protocol message, the notification text) at 10,000 cases each, from a fresh seed. `npm test` runs
// the same properties a few hundred times from a fixed seed; a failure found here is replayed with the printed
// command line, then kept as a test.
// Usage: node bench/fuzz.mjs [--runs 10000] [--seed N]
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const runs = opt('--runs', '10000');
const seed = opt('--seed', String(randomInt(2 ** 31)));
const files = ['.fuzz.test.ts', 'test/extension/format.test.ts'];
console.log(`fuzzing with FUZZ_RUNS=${runs} FUZZ_SEED=${seed}: replay with  FUZZ_RUNS=${runs} FUZZ_SEED=${seed} node scripts/test.mjs ${files.join(' ')}`);
const started = Date.now();
const r = spawnSync(process.execPath, [join(root, 'scripts', 'test.mjs'), ...files], { cwd: root, stdio: 'inherit', env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed } });
console.log(`${r.status === 0 ? 'no failure' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s (FUZZ_RUNS=${runs} FUZZ_SEED=${seed})`);
process.exit(r.status ?? 1);
