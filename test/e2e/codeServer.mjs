// One code-server per scenario: its own user data (settings, global storage, logs) under the scenario's
// temp folder, the shared extensions folder where the .vsix was installed, and a process group of its own.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Environment that keeps code-server (and everything it starts) out of the home folder. */
export function isolatedEnv(tmp) {
  const dirs = { XDG_CONFIG_HOME: join(tmp, 'xdg-config'), XDG_DATA_HOME: join(tmp, 'xdg-data'), XDG_CACHE_HOME: join(tmp, 'xdg-cache'), TMPDIR: join(tmp, 'tmp') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const env = { ...process.env, ...dirs };
  // Variables of an outer VS Code or npm would leak into the extension host.
  for (const k of Object.keys(env)) if (k.startsWith('VSCODE_') || k.startsWith('npm_') || k === 'ELECTRON_RUN_AS_NODE') delete env[k];
  return env;
}

/** `code-server --install-extension`; returns its output. */
export function installExtension(bin, vsix, { extensionsDir, userDataDir, env }) {
  return execFileSync(process.execPath, [bin, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', vsix, '--force'], {
    env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
  }).toString();
}

export class CodeServer {
  /**
   * @param {object} o
   * @param {string} o.bin code-server's entry.js
   * @param {string} o.tmp the scenario's temp folder
   * @param {string} o.extensionsDir
   * @param {object} o.settings user settings.json
   * @param {string} o.workspace folder to open
   */
  static async start(o) {
    const userDataDir = join(o.tmp, 'user-data');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    mkdirSync(o.workspace, { recursive: true });
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(o.settings, null, 2));
    const env = isolatedEnv(o.tmp);
    const args = [
      o.bin, '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--user-data-dir', userDataDir, '--extensions-dir', o.extensionsDir,
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
      '--ignore-last-opened', o.workspace,
    ];
    // detached: setsid, so the whole tree can be ended by its process group at the end.
    const proc = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const cs = new CodeServer(proc, userDataDir, o.workspace);
    cs.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not listen within 30 s:\n${cs.output}`)), 30_000);
      const onData = (d) => {
        cs.output += d;
        const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/?)/.exec(cs.output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`code-server exited (${signal ?? code}) before listening:\n${cs.output}`));
      });
    });
    return cs;
  }

  constructor(proc, userDataDir, workspace) {
    this.proc = proc;
    this.pid = proc.pid;
    this.userDataDir = userDataDir;
    this.workspace = workspace;
    this.output = '';
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The folder URL that opens the workspace in the workbench. */
  get workbenchUrl() {
    return `${this.url.replace(/\/$/, '')}/?folder=${encodeURIComponent(this.workspace)}`;
  }

  settingsPath() {
    return join(this.userDataDir, 'User', 'settings.json');
  }

  /** The extension's global storage (runs/ and cache/ live there). */
  globalStorage() {
    return join(this.userDataDir, 'User', 'globalStorage', 'train-with-adam.train-with-adam');
  }

  /** The text of the output channel "Train with Adam", as the extension host wrote it to its log folder. */
  outputChannel() {
    const found = [];
    const walk = (dir) => {
      let entries = [];
      try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('Train with Adam.log')) found.push(p);
      }
    };
    walk(join(this.userDataDir, 'logs'));
    found.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
    return found.map((f) => readFileSync(f, 'utf8')).join('\n');
  }

  /** The main process only: a sidecar left behind must stay visible to the orphan check. */
  async terminateMain(timeoutMs = 10_000) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /** Ends the whole process group (code-server, its extension host and anything they left). */
  async killGroup() {
    const alive = () => { try { process.kill(-this.pid, 0); return true; } catch { return false; } };
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      if (!alive()) return;
      try { process.kill(-this.pid, signal); } catch { return; }
      for (let i = 0; i < 30 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    }
  }
}
