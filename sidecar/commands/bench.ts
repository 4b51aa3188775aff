// adam-trainer bench: training throughput (samples/s, training steps only) by batch size and worker
// count: the median of several timed windows after a warm-up, on one dataset loaded once per session.
import { cpus } from 'node:os';
import { TrainingSession, type EngineKind } from '../session';
import { resolveConfig } from '../protocol';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { parseFlags } from './args';
import { StepHistogramRecorder } from '../stepHistogramRecorder';

const list = (v: string | number) => (String(v).split(',').every((x) => /^\d+$/.test(x) && Number(x) >= 1) ? undefined : `must be a comma-separated list of positive integers, got '${v}'`);

export interface BenchRow {
  batchSize: number;
  workers: number;
  optimizer: string;
  samplesPerSec: number; // median over windows
  windows: number[];
  /** With --step-histograms: the same windows interleaved with and without the run's step histograms. */
  stepHistograms?: { samplesPerSecWith: number; windowsWith: number[]; costPercent: number; pairedCostPercent: number; timeSharePercent: number; histograms: number; msPerHistogram: number };
}

/**
 * Trains `session` for at least `windowMs` in chunks sized to about 25 ms of training, as a run's (the first of 8
 * steps), calling `afterChunk` after each chunk as the trainer calls its recorders; returns the samples trained and
 * the seconds the chunks and `afterChunk` took. Also bench/rescue.ts's and bench/shards.ts's timing window.
 */
export async function trainWindow(
  session: { trainChunk(steps: number): Promise<{ steps: number; batchSize: number }> },
  windowMs: number,
  afterChunk?: (steps: number, trainedSeconds: number) => void,
): Promise<{ samples: number; seconds: number }> {
  let samples = 0;
  let seconds = 0;
  let chunk = 8;
  while (seconds * 1000 < windowMs) {
    const t0 = performance.now();
    const r = await session.trainChunk(chunk);
    const trained = (performance.now() - t0) / 1000;
    afterChunk?.(r.steps, trained);
    seconds += (performance.now() - t0) / 1000;
    samples += r.steps * r.batchSize;
    chunk = Math.max(1, Math.min(4096, Math.round(0.025 / (trained / r.steps))));
  }
  return { samples, seconds };
}

export async function benchCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, {
    data: { kind: 'string' },
    'batch-sizes': { kind: 'string', check: list },
    workers: { kind: 'string', check: list },
    optimizer: { kind: 'string', check: (v) => (['adam', 'adamw', 'amsgrad', 'sgd'].includes(String(v)) ? undefined : `must be adam, adamw, amsgrad or sgd, got '${v}'`) },
    windows: { kind: 'int', check: (v) => (Number(v) >= 1 && Number(v) <= 50 ? undefined : 'must be in 1..50') },
    'window-ms': { kind: 'int', check: (v) => (Number(v) >= 50 ? undefined : 'must be >= 50') },
    engine: { kind: 'string', check: (v) => (v === 'wasm' || v === 'reference' ? undefined : `must be wasm or reference, got '${v}'`) },
    'cache-dir': { kind: 'string' },
    'step-histograms': { kind: 'boolean' },
    json: { kind: 'boolean' },
    help: { kind: 'boolean' },
  });
  if (flags.help) {
    process.stdout.write('usage: adam-trainer bench [--data DIR|sample] [--batch-sizes 4,32,128] [--workers 1,2] [--optimizer adam]\n' +
      '                         [--windows 7] [--window-ms 1000] [--engine wasm|reference] [--step-histograms] [--json]\n');
    return 0;
  }
  const batchSizes = String(flags['batch-sizes'] ?? '4,32,128').split(',').map(Number);
  const cores = cpus().length;
  const workerCounts = String(flags.workers ?? Array.from({ length: cores }, (_, i) => i + 1).join(',')).split(',').map(Number);
  const windows = (flags.windows as number | undefined) ?? 7;
  const windowMs = (flags['window-ms'] as number | undefined) ?? 1000;
  const optimizer = (flags.optimizer as 'adam' | undefined) ?? 'adam';
  const data = flags.data === undefined ? 'sample' : String(flags.data) === 'sample' ? 'sample' : resolveUserPath(String(flags.data), '--data');
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? adamTrainerHome().cacheDir), '--cache-dir');
  const rows: BenchRow[] = [];
  if (!flags.json) process.stdout.write(`batch  workers  samples/s (median of ${windows} x ${windowMs} ms)   windows\n`);
  for (const workers of workerCounts) {
    for (const batchSize of batchSizes) {
      const config = resolveConfig({ optimizer, batchSize, workers, data, epochs: 10000 }, workers);
      const session = await TrainingSession.create({ config, cacheDir, engine: (flags.engine as EngineKind | undefined) ?? 'wasm', notice: (l) => process.stderr.write(l + '\n') });
      try {
        // The trainer's own recorder (trainer.ts), called after each chunk exactly as a run calls it.
        const recorder = new StepHistogramRecorder('bench');
        let secondsWith = 0;
        const timeWindow = async (ms: number, histograms = false) => {
          const { samples, seconds } = await trainWindow(session, ms, histograms ? (steps, trained) => recorder.afterChunk(session, steps, trained) : undefined);
          if (histograms) secondsWith += seconds;
          return samples / seconds;
        };
        await timeWindow(Math.min(500, windowMs)); // warm-up: JIT, caches, page faults
        const rates: number[] = [];
        const withHistograms: number[] = [];
        for (let w = 0; w < windows; w++) {
          // Side by side: each window without the histograms is followed by one with them, so drift hits both.
          rates.push(await timeWindow(windowMs));
          if (flags['step-histograms']) withHistograms.push(await timeWindow(windowMs, true));
        }
        // The middle window, or the mean of the middle two.
        const median = (list: number[]) => { const s = [...list].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
        const row: BenchRow = { batchSize, workers, optimizer, samplesPerSec: median(rates), windows: rates.map((r) => Math.round(r)) };
        if (flags['step-histograms']) {
          const samplesPerSecWith = median(withHistograms);
          row.stepHistograms = {
            samplesPerSecWith,
            windowsWith: withHistograms.map((r) => Math.round(r)),
            costPercent: (100 * (row.samplesPerSec - samplesPerSecWith)) / row.samplesPerSec,
            // Each window with histograms against the one just before it, the median of those: robust to drift.
            pairedCostPercent: median(withHistograms.map((w, i) => 100 * (1 - w / rates[i]))),
            // The share of the with-windows' time spent computing histograms: the cost itself, free of the noise
            // that two throughput medians carry on a shared machine.
            timeSharePercent: secondsWith > 0 ? (100 * recorder.spentSeconds) / secondsWith : 0,
            histograms: recorder.computed,
            msPerHistogram: recorder.computed ? (1000 * recorder.spentSeconds) / recorder.computed : 0,
          };
        }
        rows.push(row);
        if (flags.json) process.stdout.write(JSON.stringify({ type: 'bench', ...row }) + '\n');
        else {
          process.stdout.write(`${String(batchSize).padStart(5)}  ${String(workers).padStart(7)}  ${Math.round(row.samplesPerSec).toLocaleString('en-US').padStart(10)}                         ${row.windows.join(' ')}\n`);
          const sh = row.stepHistograms;
          if (sh) process.stdout.write(`       with step histograms: ${Math.round(sh.samplesPerSecWith).toLocaleString('en-US')} samples/s (${sh.costPercent.toFixed(2)}% less; paired median ${sh.pairedCostPercent.toFixed(2)}%; ${sh.histograms} histograms, ${sh.msPerHistogram.toFixed(2)} ms each, ${sh.timeSharePercent.toFixed(2)}% of the time)   ${sh.windowsWith.join(' ')}\n`);
        }
      } finally {
        await session.close();
      }
    }
  }
  return 0;
}
