// What a user does and sees in the VS Code workbench (code-server in Chromium): the command palette, the
// status bar, notifications, and the dashboard webview.
import { execFileSync } from 'node:child_process';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; throws with `what` (and the last value seen) after timeoutMs. */
export async function waitFor(what, probe, { timeoutMs = 20_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const seen = lastError ? `; last error: ${lastError.message.split('\n')[0]}` : last !== undefined ? `; last seen: ${JSON.stringify(last)}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${seen}`);
    }
    await sleep(intervalMs);
  }
}

export class Workbench {
  constructor(page) {
    this.page = page;
    this.console = [];
    page.on('console', (m) => this.console.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.console.push(`[pageerror] ${e.stack ?? e.message}`));
  }

  async open(url) {
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 60_000 });
    await this.page.locator('.monaco-workbench .part.editor').waitFor({ timeout: 30_000 });
    // The explorer takes room from the dashboard; Ctrl+B closes it.
    if (await this.page.locator('.part.sidebar').isVisible().catch(() => false)) {
      await this.page.locator('.part.editor').click({ position: { x: 40, y: 300 } });
      await this.page.keyboard.press('Control+B');
    }
  }

  /**
   * Runs a command from the palette (F1), by its full title ("Adam: Train with Adam"). The extension's
   * commands are often not in the palette yet when the workbench appears: retry until the row shows.
   */
  async runCommand(title, { timeoutMs = 30_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    const input = this.page.locator('.quick-input-widget input.input');
    const row = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first();
    for (;;) {
      await this.focusEditorArea();
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(`>${title}`);
        await row.waitFor({ state: 'visible', timeout: 3000 });
        await row.click();
        await input.waitFor({ state: 'hidden', timeout: 5000 });
        return;
      } catch (e) {
        await this.page.keyboard.press('Escape');
        this.retries = (this.retries ?? 0) + 1;
        if (process.env.E2E_DEBUG) console.log(`    (palette retry for "${title}": ${e.message.split('\n')[0]})`);
        if (Date.now() > deadline) throw new Error(`command "${title}" never appeared in the palette: ${e.message.split('\n')[0]}`);
        await sleep(1000);
      }
    }
  }

  /**
   * A plain mouse click in the editor area gives the workbench (or the dashboard, which forwards key
   * bindings) the keyboard. Not locator.click(): over a webview the iframe, which lives outside the editor
   * part, receives the click, and Playwright's actionability check would wait for its timeout.
   */
  async focusEditorArea() {
    const box = await this.page.locator('.part.editor').boundingBox().catch(() => null);
    if (box) await this.page.mouse.click(box.x + 30, box.y + Math.min(box.height - 10, 120));
  }

  /** The status bar entry of the extension ("Adam epoch 3/30 · loss … · 12,000 samples/s"), or ''. */
  async statusText() {
    const items = await this.page.locator('.part.statusbar .statusbar-item').evaluateAll((els) =>
      els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()),
    );
    return items.find((t) => /^Adam\b/.test(t)) ?? '';
  }

  /** Texts of the notifications shown (toasts and the notification center). */
  async notifications() {
    return this.page.locator('.notification-list-item-message').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()));
  }

  /** The dashboard webview's document: VS Code nests it in iframe.webview, then iframe#active-frame. */
  get dashboard() {
    return this.page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
  }

  async webviewCount() {
    return this.page.locator('iframe.webview').count();
  }

  async dashboardText(selector) {
    return ((await this.dashboard.locator(selector).textContent({ timeout: 5000 })) ?? '').trim();
  }

  /** A chart canvas's own description (data-points, data-last-x, data-last-y, data-markers). */
  async chart(id) {
    return this.dashboard.locator(`#chart-${id}`).evaluate((el) => ({ ...el.dataset }), undefined, { timeout: 5000 });
  }

  /** The step shown in the dashboard's header ("step 1,200"), or -1. */
  async shownStep() {
    const stats = await this.dashboardText('#run-stats').catch(() => '');
    const m = /step ([\d,]+)/.exec(stats);
    return m ? Number(m[1].replace(/,/g, '')) : -1;
  }

  async screenshot(path) {
    await this.page.screenshot({ path });
  }
}

/** Sidecar processes (`adam-trainer.js serve` or `cli.js serve`) whose command line contains `marker`. */
export function sidecarProcesses(marker) {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { maxBuffer: 16 * 1024 * 1024 }).toString();
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter(Boolean)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }))
    .filter((p) => /adam-trainer|cli\.js/.test(p.args) && /\bserve\b/.test(p.args) && p.args.includes(marker));
}
