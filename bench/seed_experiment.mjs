// The seed's experiment, ours beside PyTorch's: 2 epochs at batch 4, Adam (lr 1e-3) and SGD (momentum 0.9),
// for several seeds; prints test accuracy, training samples/s and wall time of each run as a table and a
// JSON line. Usage: node bench/seed_experiment.mjs [DATA] [--seeds 1,2,3] [--no-torch] [--epochs 2]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const data = args[0] && !args[0].startsWith('--') ? args[0] : join(root, '..', 'shared', 'data', 'cifar10-jpg');
const seeds = opt('--seeds', '1,2,3').split(',').map(Number);
const epochs = opt('--epochs', '2');
const torchScript = join(root, '..', 'shared', 'anchors', 'torch_cifar_cnn.py');
const withTorch = !args.includes('--no-torch') && existsSync(torchScript) && existsSync('/usr/bin/python3');

function lastJson(stdout) {
  const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  return lines.length ? JSON.parse(lines[lines.length - 1]) : null;
}
const rows = [];
for (const optimizer of ['adam', 'sgd']) {
  for (const seed of seeds) {
    let t0 = Date.now();
    const ours = spawnSync(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'train', '--data', data, '--epochs', epochs, '--batch-size', '4',
      '--optimizer', optimizer, '--seed', String(seed), '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const o = lastJson(ours.stdout);
    const row = { optimizer, seed, testAccuracy: o?.testAccuracy, samplesPerSec: o?.samplesPerSec, wallSeconds: (Date.now() - t0) / 1000 };
    if (withTorch) {
      t0 = Date.now();
      const torch = spawnSync('/usr/bin/python3', [torchScript, data, '--optimizer', optimizer, '--epochs', epochs, '--batch-size', '4', '--seed', String(seed), '--threads', '2'],
        { encoding: 'utf8', maxBuffer: 1 << 26 });
      const t = lastJson(torch.stdout);
      Object.assign(row, { torchTestAccuracy: t?.testAccuracy, torchSamplesPerSec: t?.samplesPerSec, torchWallSeconds: (Date.now() - t0) / 1000 });
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
const fmt = (x, d = 1) => (x === undefined ? '-' : Number(x).toFixed(d));
console.log('\noptimizer seed  ours acc   ours samples/s  ours wall s | torch acc  torch samples/s  torch wall s');
for (const r of rows) {
  console.log(`${r.optimizer.padEnd(9)} ${String(r.seed).padEnd(5)} ${fmt(100 * r.testAccuracy, 2).padStart(8)}% ${fmt(r.samplesPerSec, 0).padStart(15)} ${fmt(r.wallSeconds).padStart(12)} |` +
    ` ${r.torchTestAccuracy === undefined ? '      -' : fmt(100 * r.torchTestAccuracy, 2).padStart(8) + '%'} ${fmt(r.torchSamplesPerSec, 0).padStart(16)} ${fmt(r.torchWallSeconds).padStart(13)}`);
}
for (const optimizer of ['adam', 'sgd']) {
  const rs = rows.filter((r) => r.optimizer === optimizer);
  const mean = (k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0) / rs.length;
  console.log(`${optimizer} mean accuracy: ours ${fmt(100 * mean('testAccuracy'), 2)}%${withTorch ? `, torch ${fmt(100 * mean('torchTestAccuracy'), 2)}%` : ''}`);
}
