// What the gallery costs a live run: a real `adam-trainer serve`, one run training on CIFAR-10 (batch 4, the
// default workers), and windows of --seconds, alternately quiet and with the dashboard's gallery asked for again
// every 2 s (after the previous answer came, as paging or a filter does; each one classifies the whole test set,
// because the live run's weights have moved). Samples/s are the run's steps timed from outside; the gallery's
// answers are timed from request to reply. Medians over --repeats pairs of windows; --root runs another checkout's
// build the same way, one after the other.
//   node bench/gallery.mjs [--data DIR] [--seconds 20] [--repeats 3] [--root DIR]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { median } from './stats.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const shared = join(here, '..', 'shared', 'data', 'cifar10-jpg');
const data = arg('data', existsSync(shared) ? shared : 'sample');
const seconds = Number(arg('seconds', 20));
const repeats = Number(arg('repeats', 3));
const roots = [here, ...(arg('root') ? [arg('root')] : [])];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function bench(root) {
  const home = mkdtempSync(join(tmpdir(), 'adam-bench-gallery-'));
  const server = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'serve', '--runs-dir', join(home, 'runs'), '--cache-dir', join(home, 'cache')], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const { url } = JSON.parse(await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve)));
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    let step = 0;
    let runId;
    const waiting = new Map();
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'started') runId = m.runId;
      if (m.type === 'metrics' && m.runId === runId) step = m.step;
      if ((m.type === 'gallery' || m.type === 'error') && waiting.has(m.requestId)) { waiting.get(m.requestId)(m); waiting.delete(m.requestId); }
    });
    ws.send(JSON.stringify({ type: 'start', config: { data, batchSize: 4, seed: 1, epochs: 1000 } }));
    while (step < 2000) await sleep(100); // the data loaded, the run under way
    const quiet = [];
    const watched = [];
    const answers = [];
    let n = 0;
    for (let r = 0; r < repeats; r++) {
      for (const withGallery of [false, true]) {
        const s0 = step;
        const t0 = performance.now();
        let stop = false;
        const asking = (async () => {
          while (withGallery && !stop) {
            const requestId = `g${n++}`;
            const asked = performance.now();
            const reply = await new Promise((resolve) => { waiting.set(requestId, resolve); ws.send(JSON.stringify({ type: 'gallery', runId, limit: 48, requestId })); });
            if (reply.type === 'error') throw new Error(`gallery: ${reply.message}`);
            answers.push(performance.now() - asked);
            await sleep(2000);
          }
        })();
        await sleep(seconds * 1000);
        const rate = ((step - s0) * 4) / ((performance.now() - t0) / 1000);
        stop = true;
        await asking; // the last request's answer, outside the window, before the next one starts
        (withGallery ? watched : quiet).push(rate);
        console.log(`${root === here ? 'this build' : root}: ${withGallery ? 'with the gallery' : 'quiet'} ${Math.round(rate)} samples/s`);
      }
    }
    ws.close();
    return { build: root === here ? 'this' : root, quiet: Math.round(median(quiet)), withGallery: Math.round(median(watched)), ratio: +(median(watched) / median(quiet)).toFixed(3), galleryAnswers: answers.length, galleryAnswerMsMedian: Math.round(median(answers)), runs: { quiet: quiet.map(Math.round), withGallery: watched.map(Math.round) } };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }
}

for (const root of roots) console.log(JSON.stringify(await bench(root)));
