// Short texts the extension shows (status bar, notifications, pickers), kept apart from the VS Code API so
// they are tested as plain functions.
import type { EvalMessage, MetricsMessage, OptimizerName, RunState, RunSummary } from '../sidecar/protocol';
import { isEnded } from '../sidecar/protocol';

export interface FollowedRun {
  runId: string;
  state: RunState;
  epochs: number;
  optimizer: OptimizerName;
  metrics?: MetricsMessage;
  eval?: EvalMessage;
}

const OPTIMIZER_LABELS: Record<OptimizerName, string> = { adam: 'Adam', adamw: 'AdamW', amsgrad: 'AMSGrad', sgd: 'SGD', rmsprop: 'RMSprop' };

export const optimizerLabel = (name: OptimizerName): string => OPTIMIZER_LABELS[name];

// A training run's icon is still: a spinning icon is a CSS animation that VS Code's renderer and GPU process paint
// for as long as the run trains, about 0.08 cores of the cores the run wants (issue 13, code-server with the
// dashboard hidden: renderer 0.155 -> 0.098 cores, GPU process 0.039 -> 0.012). The text
// beside it changes every second, which says the run is alive. A run still loading (idle) spins: that is short.
const ICONS: Partial<Record<RunState, string>> = {
  downloading: '$(cloud-download)',
  idle: '$(loading~spin)',
  running: '$(pulse)',
  paused: '$(debug-pause)',
  done: '$(check)',
  stopped: '$(debug-stop)',
  failed: '$(error)',
};

/** The status bar shows a live run's epoch, loss, accuracy and samples/s: from live metrics at most this often (a run's
 *  first figures at once). Each write is a round trip to the workbench, which repaints the status bar, on the cores the
 *  run trains on: once a second it cost the run about 0.02 of its 1.8 cores in code-server with the dashboard hidden
 *  (issue 13, BENCHMARKS.md "Twenty-seventh round"). */
export const STATUS_INTERVAL_MS = 5000;

/** How long new figures of run `runId` wait before the status bar shows them, at time `now`, when it last showed figures
 *  of run `shown.runId` at `shown.at`: not at all if they are the run's first, else until STATUS_INTERVAL_MS after that. */
export function figuresWaitMs(shown: { runId?: string; at: number }, runId: string, now: number): number {
  if (shown.runId !== runId) return 0;
  return Math.min(STATUS_INTERVAL_MS, Math.max(0, shown.at + STATUS_INTERVAL_MS - now));
}

export function statusBarText(run: FollowedRun): string {
  const m = run.metrics;
  const parts: string[] = [];
  if (isEnded(run.state)) {
    parts.push(run.state);
    if (run.eval) parts.push(`test ${percent(run.eval.testAccuracy)}`);
  } else {
    if (run.state === 'paused') parts.push('paused');
    if (run.state === 'downloading') parts.push('preparing data');
    if (m) {
      parts.push(`epoch ${Math.min(run.epochs, Math.floor(m.epoch) + 1)}/${run.epochs}`);
      parts.push(`loss ${m.loss.toFixed(3)}`);
      parts.push(`acc ${percent(m.accuracy)}`);
      parts.push(`${Math.round(m.samplesPerSec).toLocaleString('en-US')} samples/s`);
    }
  }
  return `${ICONS[run.state] ?? ''} ${OPTIMIZER_LABELS[run.optimizer]} ${parts.join(' · ')}`.trim();
}

export function endedMessage(run: FollowedRun, reason?: string): string {
  const steps = run.metrics ? ` after ${run.metrics.step.toLocaleString('en-US')} steps` : '';
  if (run.state === 'done') return `Run ${run.runId} finished${steps}${run.eval ? `: test accuracy ${percent(run.eval.testAccuracy)}` : ''}.`;
  if (run.state === 'failed') return `Run ${run.runId} failed${steps}${reason ? `: ${reason}` : '.'}`;
  return `Run ${run.runId} ${run.state}${steps}.`;
}

/** A quick-pick line for a run: "adam lr 0.001 · done · step 25,000 · test 54.2%". */
export function runDescription(r: RunSummary): string {
  const parts = [`${r.config.optimizer} lr ${r.config.learningRate}`, r.orphaned ? 'interrupted' : r.state];
  if (r.step !== undefined) parts.push(`step ${r.step.toLocaleString('en-US')}`);
  if (r.testAccuracy !== undefined) parts.push(`test ${percent(r.testAccuracy)}`);
  if (r.parentRunId) parts.push(`fork of ${r.parentRunId}`);
  return parts.join(' · ');
}

/** A run's tooltip in the Runs view (Markdown): its line, why it ended when it says (a failure's error), its settings. */
export function runTooltip(r: RunSummary): string {
  return [`**${r.runId}**`, runDescription(r), ...(r.reason ? [escapeMarkdown(r.reason)] : []), configLine(r)].join('\n\n');
}

/** A run's settings beyond its optimizer and lr, in one line of Markdown. */
function configLine(r: RunSummary): string {
  const c = r.config;
  const adam = c.optimizer === 'sgd' ? `momentum ${c.momentum}${c.nesterov ? ' (Nesterov)' : ''}`
    : c.optimizer === 'rmsprop' ? `α ${c.alpha} · momentum ${c.momentum} · ε ${c.epsilon}`
    : `β1 ${c.beta1} · β2 ${c.beta2} · ε ${c.epsilon}${c.biasCorrection ? '' : ' · no bias correction'}`;
  return `${c.epochs} epochs · ${adam} · weight decay ${c.weightDecay} · data ${c.data === undefined ? 'CIFAR-10' : escapeMarkdown(c.data)}`;
}

/**
 * Text from files or the sidecar (an error naming a dataset path, a run's failure reason), made safe for a
 * notification. VS Code turns `[label](command:…)`, `(https:…)` or `(file:…)` in a notification's message into a link
 * (vs/base/common/linkedText.ts: a `]` followed at once by `(`), and anyone can name a class folder
 * `[x](command:…)`. A backslash between the two keeps the text as it was, visibly, and no link can form; brackets and
 * parentheses elsewhere ("must be in [0, 1)") are left alone.
 */
export function withoutLinks(text: string): string {
  return text.replace(/\]\(/g, ']\\(');
}

/**
 * Text from files inside Markdown that VS Code renders (a tooltip's MarkdownString): every ASCII punctuation character
 * CommonMark lets a backslash escape is escaped, so a path is shown as it is, never as a link, an image (which would
 * be fetched) or emphasis.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '\\$&');
}

export function progressText(p: { phase: string; done: number; total: number }): string {
  const names: Record<string, string> = { download: 'Downloading CIFAR-10', extract: 'Extracting the archive', decode: 'Decoding images' };
  const amount = p.phase === 'download' ? `${mib(p.done)} of ${mib(p.total)} MB` : `${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')}`;
  return `${names[p.phase] ?? p.phase}: ${amount}`;
}

export const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** The status bar item's tooltip (Markdown): the run's figures and the commands that apply to it now. */
export function statusBarTooltip(run: FollowedRun): string {
  const m = run.metrics;
  const figures: string[] = [];
  if (m) {
    figures.push(`step ${m.step.toLocaleString('en-US')}`, `epoch ${Math.min(run.epochs, Math.floor(m.epoch) + 1)} of ${run.epochs}`);
    figures.push(`loss ${m.loss.toFixed(3)}`, `train accuracy ${percent(m.accuracy)}`, `lr ${m.learningRate}`);
    if (!isEnded(run.state)) figures.push(`${Math.round(m.samplesPerSec).toLocaleString('en-US')} samples/s`);
  }
  if (run.eval) figures.push(`test accuracy ${percent(run.eval.testAccuracy)}`);
  const actions = ['[Open Dashboard](command:adamTrainer.openDashboard)'];
  if (run.state === 'running' || run.state === 'downloading') actions.push('[Pause](command:adamTrainer.pause)');
  if (run.state === 'paused') actions.push('[Resume](command:adamTrainer.resume)');
  if (!isEnded(run.state)) actions.push('[Stop](command:adamTrainer.stop)');
  return [`**${OPTIMIZER_LABELS[run.optimizer]}** run \`${run.runId}\`: ${run.state}`, figures.join(' · '), actions.join(' · ')].filter(Boolean).join('\n\n');
}
