// What concurrent runs of the same data cost in memory: a real `adam-trainer serve`, N runs of one dataset started
// over the WebSocket at once (one worker thread each), the sidecar's resident memory (VmRSS, and VmHWM, the peak)
// once every run trains, and how long until the last one did. Then the runs are stopped and the resident memory
// measured again, after the sidecar has had a few seconds to collect. One sidecar per N, a fresh cache folder
// each, warmed by one run first so that every N reads the decoded cache, not the JPEGs.
// Usage: node bench/sharedData.mjs [--data DIR] [--runs 1,4] [--bin bin/adam-trainer.js]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
// ../shared from the main checkout, ../../shared from a worktree beside it.
const sharedData = [join(root, '..', 'shared'), join(root, '..', '..', 'shared')].map((d) => join(d, 'data', 'cifar10-jpg')).find(existsSync);
const data = opt('--data', sharedData ?? 'sample');
const counts = opt('--runs', '1,4').split(',').map(Number);
const bin = resolve(opt('--bin', join(root, 'bin', 'adam-trainer.js')));
const cacheDir = mkdtempSync(join(tmpdir(), 'adam-bench-shared-cache-'));

const mb = (kb) => Math.round(kb / 1024);
function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function sidecar() {
  const home = mkdtempSync(join(tmpdir(), 'adam-bench-shared-'));
  const proc = spawn(process.execPath, [bin, 'serve', '--runs-dir', join(home, 'runs'), '--cache-dir', cacheDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const first = await new Promise((r) => createInterface({ input: proc.stdout }).once('line', r));
  const { url } = JSON.parse(first);
  const ws = new WebSocket(url);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const messages = [];
  const waiters = new Set();
  ws.on('message', (d) => { messages.push(JSON.parse(String(d))); for (const w of waiters) w(); });
  const until = (pred, timeoutMs = 600_000) => new Promise((r, j) => {
    const check = () => { const m = messages.find(pred); if (m) { waiters.delete(check); clearTimeout(t); r(m); } };
    const t = setTimeout(() => { waiters.delete(check); j(new Error(`timed out; stderr: ${stderr}`)); }, timeoutMs);
    waiters.add(check);
    check();
  });
  return { proc, ws, messages, until, stderr: () => stderr, home };
}

async function measure(n) {
  const s = await sidecar();
  const before = status(s.proc.pid);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) s.ws.send(JSON.stringify({ type: 'start', config: { data, workers: 1, seed: i, epochs: 100 }, requestId: `r${i}` }));
  const runIds = [];
  for (let i = 0; i < n; i++) runIds.push((await s.until((m) => m.type === 'started' && m.requestId === `r${i}`)).runId);
  for (const runId of runIds) await s.until((m) => m.type === 'metrics' && m.runId === runId);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const training = status(s.proc.pid);
  for (const runId of runIds) s.ws.send(JSON.stringify({ type: 'stop', runId }));
  for (const runId of runIds) await s.until((m) => m.type === 'state' && m.runId === runId && ['stopped', 'done', 'failed'].includes(m.state));
  await new Promise((r) => setTimeout(r, 8000));
  const after = status(s.proc.pid);
  s.ws.close();
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.once('exit', r));
  rmSync(s.home, { recursive: true, force: true });
  return { n, seconds, idle: mb(before.rss), training: mb(training.rss), peak: mb(training.hwm), afterStop: mb(after.rss) };
}

console.log(`data: ${data}\nbin: ${bin}\nnode: ${process.version}`);
await measure(1); // warms the decoded cache
console.log('runs  first metrics of all (s)  RSS idle  RSS training  peak (VmHWM)  RSS 8 s after stop   (MB)');
for (const n of counts) {
  const r = await measure(n);
  console.log(`${String(n).padStart(4)}  ${r.seconds.toFixed(1).padStart(24)}  ${String(r.idle).padStart(8)}  ${String(r.training).padStart(12)}  ${String(r.peak).padStart(12)}  ${String(r.afterStop).padStart(18)}`);
}
rmSync(cacheDir, { recursive: true, force: true });
