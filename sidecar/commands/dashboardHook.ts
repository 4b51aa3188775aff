// `train --dashboard` is `serve` plus `start` (DESIGN.md): the command line's run is adopted by a run
// manager behind the same authenticated server the extension uses, and a browser is opened on it the way
// Jupyter does: through a local 0600 HTML file that redirects, so the token never appears on a command line.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunManager } from '../runManager';
import { dashboardDir, startServer } from '../server';
import { RunStore } from '../store/runs';
import type { Run } from '../trainer';

export interface Dashboard {
  url: string;
  /** After the run: keeps serving a little while when a browser was opened, so it can show the finished run. */
  linger(notice: (line: string) => void): Promise<void>;
  close(): Promise<void>;
}

const LINGER_MS = 15_000;

export async function startDashboard(opts: { run: Run; runsDir: string; cacheDir: string; notice: (line: string) => void }): Promise<Dashboard> {
  const manager = new RunManager({ store: new RunStore(opts.runsDir), cacheDir: opts.cacheDir, notice: opts.notice });
  manager.adopt(opts.run);
  const server = await startServer({ runsDir: opts.runsDir, cacheDir: opts.cacheDir, staticDir: dashboardDir(), handler: manager, notice: opts.notice });
  const url = `${server.dashboardUrl}${server.dashboardUrl.includes('?') ? '&' : '?'}run=${encodeURIComponent(opts.run.runId)}`;
  opts.notice(`dashboard: ${url}`);
  const redirect = openBrowser(url, opts.notice);
  return {
    url,
    async linger(say) {
      if (!redirect) return;
      say(`the dashboard stays up ${LINGER_MS / 1000} s to show the finished run (Ctrl-C to leave now)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, LINGER_MS);
        process.once('SIGINT', () => { clearTimeout(t); resolve(); });
      });
    },
    async close() {
      await server.close();
      if (redirect) rmSync(redirect, { recursive: true, force: true });
    },
  };
}

/** Opens the user's browser unless BROWSER=none or there is no display; returns the temp folder it used. */
function openBrowser(url: string, notice: (line: string) => void): string | null {
  const browser = process.env.BROWSER;
  if (browser === 'none' || process.env.CI) return null;
  const platform = process.platform;
  if (platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY && !browser) return null;
  const dir = mkdtempSync(join(tmpdir(), 'adam-trainer-open-'));
  const file = join(dir, 'dashboard.html');
  const escaped = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  writeFileSync(file, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escaped}"><title>Train with Adam</title><link rel="icon" href="data:,"><p><a href="${escaped}">Open the dashboard</a></p>\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  const [cmd, args] = browser ? [browser, [file]] : platform === 'darwin' ? ['open', [file]] : platform === 'win32' ? ['cmd', ['/c', 'start', '', file]] : ['xdg-open', [file]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => notice(`could not open a browser (${cmd}); open the URL above`));
    child.unref();
  } catch {
    notice(`could not open a browser (${cmd}); open the URL above`);
  }
  return dir;
}
