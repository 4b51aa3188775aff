// The sidecar's `lrFind` (protocol.ts): a learning-rate range test beside a run, never touching it. It takes the
// run's data, batch size, seed and hyperparameters (from the live run, or the run's record), starts a fresh net of
// that seed in a session of its own with one worker thread, and answers an `lrFound` per optimizer asked, in turn.
// One test at a time per client; a client that goes away stops its test at the next chunk.
import { UserError } from './errors';
import { findLearningRate } from './lrFinder';
import { LR_FIND_DEFAULTS, lrRangeProblem, type ClientMessage, type RunConfig } from './protocol';
import type { Client } from './runManager';

type LrFindMessage = Extract<ClientMessage, { type: 'lrFind' }>;

export class LrFindJobs {
  private readonly running = new Map<Client, AbortController>();

  constructor(private readonly opts: { cacheDir: string; notice?: (line: string) => void }) {}

  /** Starts the test; resolves when its last answer is sent (errors are answered to the client, with its requestId). */
  async start(client: Client, msg: LrFindMessage, runConfig: RunConfig): Promise<void> {
    if (this.running.has(client)) throw new UserError('run_busy', 'a learning-rate range test you asked for is running; wait for its results');
    const minLearningRate = msg.minLearningRate ?? LR_FIND_DEFAULTS.minLearningRate;
    const maxLearningRate = msg.maxLearningRate ?? LR_FIND_DEFAULTS.maxLearningRate;
    const empty = lrRangeProblem(minLearningRate, maxLearningRate);
    if (empty) throw new UserError('bad_config', empty, 'minLearningRate');
    const steps = msg.steps ?? LR_FIND_DEFAULTS.steps;
    // One worker thread: the run beside it keeps the other cores.
    const config: RunConfig = { ...runConfig, workers: 1 };
    const abort = new AbortController();
    this.running.set(client, abort);
    const requestId = msg.requestId !== undefined ? { requestId: msg.requestId } : {};
    try {
      for (const optimizer of msg.optimizers) {
        const r = await findLearningRate({ optimizer, config, minLearningRate, maxLearningRate, steps, cacheDir: this.opts.cacheDir, notice: this.opts.notice, signal: abort.signal });
        // A loss that is not finite (the step that diverged) has no JSON number: the points before it tell the story.
        const points = r.points.filter((p) => Number.isFinite(p.loss) && Number.isFinite(p.smoothedLoss));
        client.send({ type: 'lrFound', runId: msg.runId, optimizer, points, learningRate: r.learningRate, minLossLearningRate: r.minLossLearningRate, diverged: r.diverged, ...requestId });
      }
    } finally {
      this.running.delete(client);
    }
  }

  disconnect(client: Client): void {
    this.running.get(client)?.abort(new Error('the client went away'));
  }
}
