// Runs every test/**/*.test.ts with node's own test runner (TypeScript through tsx). The end-to-end suite
// lives in test/e2e and runs with `npm run test:e2e`, not here.
//
// Two files run at a time: a file spends much of its time waiting (for a sidecar to start, a browser, PyTorch), and
// one at a time the suite left the machine's two cores a third idle. Two things would then differ from run to run:
// the worker count `train` picks from the cores other programs leave free (the file beside it is such a program),
// and what a file that measures the machine's load reads. So the files run two at a time with ADAM_TRAINER_WORKERS
// set to the core count (every run that does not say has the same workers, as on an idle machine), and the files
// that read the machine's load (ALONE) run afterwards, one at a time, without it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Files that read the machine's load, or the worker count `train` chooses from it. */
const ALONE = ['test/parallel/freeCores.test.ts'];
const only = process.argv.slice(2);
function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'e2e' && name !== 'fixtures') find(p, out); }
    else if (name.endsWith('.test.ts')) out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}
let files = find(join(root, 'test')).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));

function nodeTest(list, concurrency, env) {
  if (list.length === 0) return 0;
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter', 'spec', ...list];
  return spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env }).status ?? 1;
}

const { ADAM_TRAINER_WORKERS: _, ...plain } = process.env;
const together = nodeTest(files.filter((f) => !ALONE.includes(f)), 2, { ...plain, ADAM_TRAINER_WORKERS: String(availableParallelism()) });
const alone = nodeTest(files.filter((f) => ALONE.includes(f)), 1, plain);
process.exit(together !== 0 ? together : alone);
