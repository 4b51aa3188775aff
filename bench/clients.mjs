// What watching costs: training throughput of a run started over the WebSocket with 0 extra subscribers
// and with 10 (each a real ws client receiving every metrics message), interleaved, repeated; medians.
// Usage: node bench/clients.mjs [--data DIR] [--repeats 3] [--clients 10] [--max-steps 12500]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const sharedData = join(root, '..', 'shared', 'data', 'cifar10-jpg');
const data = opt('--data', existsSync(sharedData) ? sharedData : 'sample');
const repeats = Number(opt('--repeats', '3'));
const extra = Number(opt('--clients', '10'));
const maxSteps = Number(opt('--max-steps', '12500'));

const home = mkdtempSync(join(tmpdir(), 'adam-bench-clients-'));
const server = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'serve', '--runs-dir', join(home, 'runs'), '--cache-dir', join(home, 'cache')], { stdio: ['pipe', 'pipe', 'inherit'] });
const first = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve));
const { url } = JSON.parse(first);

function connect() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function oneRun(subscribers) {
  const owner = await connect();
  const watchers = await Promise.all(Array.from({ length: subscribers }, connect));
  let received = 0;
  for (const w of watchers) w.on('message', () => received++);
  const rates = [];
  const runId = await new Promise((resolve) => {
    owner.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.type === 'started') resolve(msg.runId);
    });
    owner.send(JSON.stringify({ type: 'start', config: { data, maxSteps, epochs: 100, batchSize: 4, seed: 1 } }));
  });
  for (const w of watchers) w.send(JSON.stringify({ type: 'subscribe', runId }));
  await new Promise((resolve) => {
    owner.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.type === 'metrics' && msg.runId === runId && msg.samplesPerSec > 0) rates.push(msg.samplesPerSec);
      if (msg.type === 'state' && msg.runId === runId && ['done', 'failed', 'stopped'].includes(msg.state)) resolve();
    });
  });
  for (const w of [owner, ...watchers]) w.close();
  return { median: median(rates), messages: rates.length, received };
}

const results = { 0: [], [extra]: [] };
for (let r = 0; r < repeats; r++) {
  for (const n of [0, extra]) {
    const x = await oneRun(n);
    results[n].push(x.median);
    console.log(`repeat ${r + 1}, ${n} extra subscribers: median ${Math.round(x.median)} samples/s over ${x.messages} metrics messages` + (n ? `, ${x.received} messages delivered to watchers` : ''));
  }
}
const base = median(results[0]);
const watched = median(results[extra]);
console.log(`\nmedian samples/s: alone ${Math.round(base)}, with ${extra} subscribers ${Math.round(watched)}: cost ${(100 * (1 - watched / base)).toFixed(1)}%`);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(home, { recursive: true, force: true }); // its runs and the decoded dataset: 181 MB a benchmark
