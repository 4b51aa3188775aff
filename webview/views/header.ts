// The top of the dashboard: the open run and its latest numbers, the run controls, the connection, the
// sidecar's CPU and memory, download/decode progress and a short list of notices.
import type { RunState } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import { formatNumber } from '../markers';
import type { RunData } from '../runData';
import type { ConnectionState } from '../transport';
import { thousands } from '../text';

export interface HeaderActions {
  pause(): void;
  resume(): void;
  stop(): void;
  checkpoint(): void;
  compare(): void;
}

const MAX_NOTICES = 4;

export class Header {
  readonly element: HTMLElement;
  private readonly swatch: HTMLElement;
  private readonly runName: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly connection: HTMLElement;
  private readonly system: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly progressBar: HTMLProgressElement;
  private readonly progressText: HTMLElement;
  private readonly notices: HTMLElement;
  private readonly buttons: Record<'pause' | 'resume' | 'stop' | 'checkpoint' | 'compare', HTMLButtonElement>;

  constructor(actions: HeaderActions) {
    const button = (id: keyof HeaderActions, text: string, title: string) => {
      const b = h('button', { id, type: 'button', title }, text);
      b.addEventListener('click', () => actions[id]());
      return b;
    };
    this.buttons = {
      pause: button('pause', 'Pause', 'pause after the current step (a checkpoint is written)'),
      resume: button('resume', 'Resume', 'continue training'),
      stop: button('stop', 'Stop', 'stop the run after a checkpoint'),
      checkpoint: button('checkpoint', 'Checkpoint', 'write step-N.ckpt now (for forks and resuming)'),
      compare: button('compare', 'Compare Adam with SGD', 'overlay the newest Adam run and the newest SGD run, starting whichever is missing'),
    };
    this.swatch = h('span', { class: 'swatch' });
    this.runName = h('span', { class: 'run-name', id: 'run-name' }, 'no run open');
    this.badge = h('span', { class: 'badge', id: 'run-state' });
    this.stats = h('div', { class: 'run-stats', id: 'run-stats' });
    this.connection = h('span', { class: 'connection', id: 'connection' }, 'connecting…');
    this.system = h('span', { class: 'system', id: 'system' });
    this.progressBar = h('progress', { max: 1, value: 0 });
    this.progressText = h('span', {});
    this.progress = h('div', { class: 'progress', id: 'progress', hidden: true }, this.progressText, this.progressBar);
    this.notices = h('ul', { class: 'notices', id: 'notices', 'aria-live': 'polite' });
    this.element = h(
      'header',
      { class: 'top' },
      h(
        'div',
        { class: 'title-row' },
        h('h1', {}, 'Train with Adam'),
        h('div', { class: 'run-title' }, this.swatch, this.runName, this.badge),
        h('div', { class: 'status-right' }, this.system, this.connection),
      ),
      this.stats,
      h('div', { class: 'toolbar' }, this.buttons.pause, this.buttons.resume, this.buttons.stop, this.buttons.checkpoint, h('span', { class: 'sep' }), this.buttons.compare),
      this.progress,
      this.notices,
    );
  }

  /** `interrupted`: the run's last state is active but the sidecar that ran it is gone. */
  update(run: RunData | undefined, connected: boolean, color: string | undefined, interrupted = false): void {
    const state: RunState | 'interrupted' | undefined = interrupted ? 'interrupted' : run?.state;
    this.swatch.style.background = color ?? 'transparent';
    setText(this.runName, run ? run.runId : 'no run open');
    setText(this.badge, state ?? '');
    this.badge.className = `badge state-${state === 'interrupted' ? 'paused' : (state ?? 'none')}`;
    this.badge.title = interrupted ? 'Its sidecar is gone. Resume it from its latest checkpoint (Adam: Resume from Checkpoint…, or the offer when VS Code starts).' : '';
    const m = run?.lastMetrics;
    const e = run?.latestEval;
    const parts = run
      ? [
          `${run.config.optimizer}`,
          m ? `epoch ${Math.min(run.config.epochs, Math.floor(m.epoch) + 1)} of ${run.config.epochs}` : null,
          m ? `step ${thousands(m.step)}` : null,
          m ? `loss ${m.loss.toFixed(3)}` : null,
          m ? `train acc. ${(m.accuracy * 100).toFixed(1)}%` : null,
          e ? `test acc. ${(e.testAccuracy * 100).toFixed(1)}%` : null,
          m ? `${thousands(m.samplesPerSec)} samples/s` : null,
          // The engine trains on fewer threads while that is faster (another program holds a core): say so.
          m?.threads !== undefined && m.threads < run.config.workers ? `${m.threads} of ${run.config.workers} threads (cores are busy)` : null,
          `lr ${formatNumber(m?.learningRate ?? run.config.learningRate)}`,
          `batch ${run.config.batchSize}`,
        ]
      : ['Start a run with the form on the right, or open one from the list.'];
    setText(this.stats, parts.filter(Boolean).join('  ·  '));
    const live = state === 'running' || state === 'downloading';
    this.buttons.pause.disabled = !connected || !live;
    this.buttons.resume.disabled = !connected || state !== 'paused';
    this.buttons.stop.disabled = !connected || !(live || state === 'paused' || state === 'idle');
    this.buttons.checkpoint.disabled = !connected || !(state === 'running' || state === 'paused');
    this.buttons.compare.disabled = !connected;
  }

  setConnection(state: ConnectionState, detail?: string): void {
    const text = state === 'open' ? 'connected' : state === 'connecting' ? 'connecting…' : `disconnected${detail ? ` — ${detail}` : ''}`;
    setText(this.connection, text);
    this.connection.className = `connection ${state}`;
  }

  setSystem(cpuPercent: number, rssBytes: number): void {
    setText(this.system, `sidecar CPU ${Math.round(cpuPercent)}% · ${Math.round(rssBytes / 2 ** 20)} MB`);
  }

  setProgress(p: { phase: string; done: number; total: number } | undefined): void {
    this.progress.hidden = !p || p.done >= p.total;
    if (!p) return;
    const names: Record<string, string> = { download: 'Downloading CIFAR-10', extract: 'Extracting', decode: 'Decoding images' };
    const fraction = p.total > 0 ? p.done / p.total : 0;
    this.progressBar.value = fraction;
    const amount = p.phase === 'download' ? `${(p.done / 2 ** 20).toFixed(0)} of ${(p.total / 2 ** 20).toFixed(0)} MB` : `${thousands(p.done)} of ${thousands(p.total)}`;
    setText(this.progressText, `${names[p.phase] ?? p.phase}: ${Math.floor(fraction * 100)}% (${amount})`);
  }

  notice(text: string, kind: 'info' | 'error' = 'info'): void {
    const item = h('li', { class: kind }, text);
    this.notices.prepend(item);
    while (this.notices.children.length > MAX_NOTICES) this.notices.lastElementChild?.remove();
  }
}
