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
   * Runs a command from the palette, by its full title ("Adam: Train with Adam"): opened with a click on
   * the title bar's command center (or F1 where there is none) and typed with its leading '>'. The
   * extension's commands are often not in the palette yet when the workbench appears: retry until the row
   * shows.
   */
  async runCommand(title, { timeoutMs = 30_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    const input = this.page.locator('.quick-input-widget input.input');
    const row = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first();
    for (;;) {
      try {
        await this.openPalette();
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(`>${title}`);
        await row.waitFor({ state: 'visible', timeout: 3000 });
        await row.click();
        await input.waitFor({ state: 'hidden', timeout: 5000 });
        return;
      } catch (e) {
        await this.page.keyboard.press('Escape');
        if (process.env.E2E_DEBUG) console.log(`    (palette retry for "${title}": ${e.message.split('\n')[0]})`);
        if (Date.now() > deadline) throw new Error(`command "${title}" never appeared in the palette: ${e.message.split('\n')[0]}`);
        await sleep(1000);
      }
    }
  }

  /**
   * A click on the command center needs no keyboard focus: F1 sent while the dashboard has focus depends on
   * the webview forwarding the key, which it does not always do. Never a click inside the dashboard.
   */
  async openPalette() {
    const commandCenter = this.page.locator('.titlebar .command-center-center').first();
    if (await commandCenter.isVisible().catch(() => false)) {
      await commandCenter.click({ timeout: 5000 });
    } else {
      const box = await this.page.locator('.part.editor .tabs-container').boundingBox().catch(() => null);
      if (box) await this.page.mouse.click(box.x + box.width - 5, box.y + box.height / 2); // empty tab bar
      await this.page.keyboard.press('F1');
    }
  }

  /** The palette's rows for `title` typed after '>' (closed again with Escape): which commands the palette offers now. */
  async paletteRows(title) {
    const input = this.page.locator('.quick-input-widget input.input');
    await this.openPalette();
    await input.waitFor({ state: 'visible', timeout: 5000 });
    await input.fill(`>${title}`);
    await sleep(1000); // the list filters as it is typed
    const rows = await this.page.locator('.quick-input-list .monaco-list-row').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    await this.page.keyboard.press('Escape');
    return rows;
  }

  /** Opens the "Train with Adam" container from the activity bar; returns the Runs view's pane. */
  async openRunsView() {
    const icon = this.page.locator('.part.activitybar .action-item a[aria-label^="Train with Adam"], .part.activitybar .action-item .action-label[aria-label^="Train with Adam"]').first();
    await icon.click({ timeout: 10_000 });
    const pane = this.page.locator('.part.sidebar .pane', { has: this.page.locator('.pane-header', { hasText: /Runs/i }) }).first();
    await pane.waitFor({ state: 'visible', timeout: 10_000 });
    return pane;
  }

  /** The Runs view's rows: each one's label, description and aria-label. */
  async runsViewRows() {
    return this.page.locator('.part.sidebar .pane-body .monaco-list-row').evaluateAll((els) => els.map((e) => ({
      label: (e.querySelector('.label-name')?.textContent ?? '').trim(),
      description: (e.querySelector('.label-description')?.textContent ?? '').trim(),
      aria: e.getAttribute('aria-label') ?? '',
    })));
  }

  /** The status bar entry of the extension ("Adam epoch 3/30 · loss … · 12,000 samples/s"), or ''. */
  async statusText() {
    const items = await this.page.locator('.part.statusbar .statusbar-item').evaluateAll((els) =>
      els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()),
    );
    return items.find((t) => /^(Adam|AdamW|AMSGrad|SGD)\b/.test(t)) ?? '';
  }

  /** VS Code's Ports entry in the status bar, by its accessible label ("No Ports Forwarded", "Forwarded Ports: 41235"),
   *  or '' when the window has none (code-server's windows are remote, and have one). */
  async forwardedPorts() {
    const labels = await this.page.locator('.part.statusbar .statusbar-item').evaluateAll((els) =>
      els.map((e) => e.getAttribute('aria-label') ?? (e.querySelector('[aria-label]')?.getAttribute('aria-label') ?? '')),
    );
    return labels.find((l) => /Ports Forwarded|Forwarded Ports/.test(l)) ?? '';
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
