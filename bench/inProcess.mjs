// What the in-process engine benchmarks (bench/rescue.ts, bench/shards.ts) share: their flags, the data they train on,
// and the programs they run beside the training as loads, stopped (SIGSTOP) and continued in turn.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The value after `--name` on the command line, else `fallback`. */
export const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };

/** `--data`, else the real CIFAR-10 beside the checkout (../shared), else the built-in sample. */
export function dataArg() {
  const shared = join(here, '..', 'shared', 'data', 'cifar10-jpg');
  return arg('data', existsSync(shared) ? shared : 'sample');
}

/** Loads, as `node -e` programs: `wakeups` wakes about 400 times a second for 0.2 ms (as VS Code's processes do
 *  around an editor), `scan` works 100 ms every 2.3 s (as VS Code's search for ports, BENCHMARKS.md twenty-fifth
 *  round), `busy` keeps a core busy. */
export const LOAD_SCRIPTS = {
  wakeups: 'const burn = () => { const t = performance.now(); while (performance.now() - t < 0.2); setTimeout(burn, 2.3); }; burn();',
  scan: 'setInterval(() => { const t = performance.now(); while (performance.now() - t < 100); }, 2300);',
  busy: 'for(;;){}',
};

/** `--load` (comma-separated), each checked against LOAD_SCRIPTS. */
export function loadsArg(fallback) {
  const loads = arg('load', fallback).split(',');
  for (const l of loads) if (!(l in LOAD_SCRIPTS)) throw new Error(`--load takes ${Object.keys(LOAD_SCRIPTS).join(', ')}, got ${l}`);
  return loads;
}
