// A real `adam-trainer serve` process and real WebSocket clients for the service tests.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { listeningSchema, parseServerMessage, type ClientMessage, type ServerMessage } from '../../sidecar/protocol';
import { tempDir } from '../store/helpers';

export const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const BIN = join(ROOT, 'bin', 'adam-trainer.js');

/**
 * Builds dist/ if it is missing. `npm test` builds before it runs the tests; rebuilding here when sources
 * look newer would race with the other test files that spawn dist/cli.js at the same time.
 */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface Sidecar {
  proc: ChildProcess;
  port: number;
  token: string;
  url: string;
  runsDir: string;
  cacheDir: string;
  stderr: () => string;
  /** Kills the process (if it still runs) and waits for it. */
  kill(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startSidecar(opts: { runsDir?: string; args?: string[]; spawn?: SpawnOptions; fork?: boolean } = {}): Promise<Sidecar> {
  ensureBuilt();
  const runsDir = opts.runsDir ?? tempDir();
  const cacheDir = tempDir();
  const args = ['serve', '--runs-dir', runsDir, '--cache-dir', cacheDir, ...(opts.args ?? [])];
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe', ...(opts.fork ? ['ipc' as const] : [])], ...opts.spawn });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const lines = createInterface({ input: proc.stdout! });
  const first = await Promise.race([
    new Promise<string>((r) => lines.once('line', r)),
    exited.then(({ code }) => Promise.reject(new Error(`serve exited with ${code} before listening: ${err}`))),
    unrefDelay(15_000).then(() => Promise.reject(new Error(`serve did not print its listening line: ${err}`))),
  ]);
  const listening = listeningSchema.parse(JSON.parse(first));
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  return { proc, port: listening.port, token: listening.token, url: listening.url, runsDir, cacheDir, stderr: () => err, kill, exited };
}

/** The TCP sockets process `pid` listens on, as "address:port" in hex, from the kernel's tables (Linux). */
export function listeningTcp(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const found: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) found.push(f[1]); // 0A: LISTEN
    }
  }
  return found;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A delay that does not keep the test process alive (for the losing side of a race). */
export function unrefDelay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** A WebSocket client that keeps every message it receives, for `next` to pick from in order. */
export class TestClient {
  readonly received: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;
  private cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const parsed = parseServerMessage(String(data));
      if (isBinary || !parsed.ok) throw new Error(`the sidecar sent an invalid message: ${String(data).slice(0, 200)}`);
      this.received.push(parsed.message);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused with HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(msg: ClientMessage | string | Buffer): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** The next message (after the ones already taken) that matches, waiting up to `timeoutMs`. */
  async next<T extends ServerMessage['type']>(type: T, match: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true, timeoutMs = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const m = this.received[this.cursor++];
        if (m.type === type && match(m as Extract<ServerMessage, { type: T }>)) return m as Extract<ServerMessage, { type: T }>;
      }
      if (this.closed) throw new Error(`closed (${this.closed.code}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms; got ${this.received.slice(-5).map((m) => JSON.stringify(m).slice(0, 200)).join('\n')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        t.unref();
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Every message of a type received so far (not consuming). */
  all<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.received.filter((m) => m.type === type) as Array<Extract<ServerMessage, { type: T }>>;
  }

  async waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await new Promise<void>((r) => this.ws.once('close', () => r()));
  }

  private wake(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}

/** A raw HTTP request (for upgrades that must be refused, and for the static server). */
export function rawRequest(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; upgraded: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: !('Host' in headers || 'host' in headers) });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, upgraded: false }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', upgraded: true });
    });
    req.on('error', reject);
    req.end();
  });
}

export function upgradeHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': Buffer.from('0123456789abcdef').toString('base64'),
    ...extra,
  };
}
