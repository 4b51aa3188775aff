// `npm start`: the main job for a newcomer. Builds if needed, then trains the seed's experiment (Adam,
// batch 4, 2 epochs) with the live dashboard: `adam-trainer train --dashboard` on the cached or
// downloaded CIFAR-10 (offline: the shipped sample, and it says so). Extra arguments go to `train`,
// e.g. `npm start -- --data /path/to/cifar-10-batches-bin`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    t = Math.max(t, name.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const built = join(root, 'dist', 'cli.js');
const stale = !existsSync(built) || ['sidecar', 'webview', 'extension'].some((d) => existsSync(join(root, d)) && newest(join(root, d)) > statSync(built).mtimeMs);
if (stale) {
  console.error('building...');
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const args = ['train', '--dashboard', '--optimizer', 'adam', '--batch-size', '4', '--epochs', '2', ...process.argv.slice(2)];
const child = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), ...args], { stdio: 'inherit' });
// Ctrl-C reaches the child through the terminal's process group; it stops after a checkpoint.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
