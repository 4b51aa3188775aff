// The sidecar's local server: the dashboard over HTTP and the protocol over a WebSocket, on one port of
// 127.0.0.1. Security follows DESIGN.md "Security of the local server" (Jupyter Server's and VS Code's
// lessons): a random token compared in constant time, and in the `upgrade` handler, before the WebSocket
// exists, the Host header must name a loopback address with our port (DNS rebinding) and the Origin, when
// present, must be exactly our own (cross-site WebSocket hijacking).
//
// How the browser dashboard authenticates: the URL we hand out is `http://127.0.0.1:P/?token=T`. The
// server answers it with a redirect to `/` that sets the token as an HttpOnly, SameSite=Strict cookie
// (named per port, since cookies are shared across ports), so the token leaves the address bar and the
// page's script never holds it; the page then opens `ws://<its host>/` and the browser sends the cookie.
// Clients that are not browsers (the extension host) put the token in the query: `ws://127.0.0.1:P/?token=T`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, join, resolve } from 'node:path';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { PROTOCOL_VERSION, parseClientMessage, type RunSummary, type ServerMessage } from './protocol';
import { type Client, type MessageHandler, RunManager } from './runManager';
import { isInside } from './store/paths';
import { RunStore } from './store/runs';

export const MAX_FRAME_BYTES = 1_048_576;
export const MESSAGES_PER_SECOND = 200;
const PING_INTERVAL_MS = 15_000;
const SYSTEM_INTERVAL_MS = 2_000;
/** Past this much unsent data, a client only gets what it cannot do without (no metrics, no system). */
const SLOW_CLIENT_BYTES = 1 << 20;
/** Past this, a client is not reading at all: it is dropped rather than allowed to grow our memory. */
const DEAD_CLIENT_BYTES = 64 << 20;
const DROPPABLE = new Set<ServerMessage['type']>(['metrics', 'system', 'progress']);

export interface ServerOptions {
  runsDir: string;
  cacheDir: string;
  host?: string;
  port?: number;
  /** The dashboard bundle (dist/webview): index.html, dashboard.js, ... Nothing outside it is served. */
  staticDir?: string;
  /** What handles client messages; a RunManager over `runsDir` unless given. */
  handler?: MessageHandler;
  workers?: number;
  notice?: (line: string) => void;
  /** How often clients are pinged; one that has not answered the previous ping is dropped. */
  pingIntervalMs?: number;
}

export interface RunningServer {
  port: number;
  token: string;
  /** The WebSocket URL with the token (the `listening` line's `url`). */
  url: string;
  /** The dashboard URL with the token; answered with a redirect that sets the cookie. */
  dashboardUrl: string;
  handler: MessageHandler;
  /** Closes every connection and the listening socket; runs are the handler's (call its shutdown first). */
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) throw new Error(`the sidecar binds loopback addresses only, not ${host}`);
  const handler = opts.handler ?? new RunManager({ store: new RunStore(opts.runsDir), cacheDir: opts.cacheDir, workers: opts.workers, notice: opts.notice });
  const token = randomBytes(32).toString('base64url');
  const tokenHash = sha256(token);
  const tokenMatches = (given: string | undefined | null): boolean => typeof given === 'string' && timingSafeEqual(sha256(given), tokenHash);
  const staticDir = opts.staticDir !== undefined && existsSync(opts.staticDir) ? realpathSync(opts.staticDir) : undefined;

  let port = 0;
  const cookieName = () => `adam_trainer_token_${port}`;
  const hostAllowed = (h: string | undefined) => h !== undefined && [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(h.toLowerCase());
  const originAllowed = (o: string) => o === `http://127.0.0.1:${port}` || o === `http://localhost:${port}`;

  const server = createServer((req, res) => serveHttp(req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const connections = new Set<Connection>();
  let nextId = 1;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostAllowed(req.headers.host)) return refuse(socket, 403, 'Forbidden: the Host header must be 127.0.0.1 or localhost with this port');
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin)) return refuse(socket, 403, 'Forbidden: cross-origin WebSocket connections are refused');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const given = url.searchParams.get('token') ?? cookie(req, cookieName());
    if (!tokenMatches(given)) return refuse(socket, 401, 'Unauthorized: a valid token is required');
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  function accept(ws: WebSocket): void {
    const conn = new Connection(nextId++, ws);
    connections.add(conn);
    ws.on('pong', () => (conn.alive = true));
    ws.on('error', () => undefined); // a frame over maxPayload: ws closes with 1009 itself
    ws.on('close', () => {
      connections.delete(conn);
      handler.disconnect(conn);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => onMessage(conn, data, isBinary));
    let runs: RunSummary[];
    try {
      runs = handler.listRuns();
    } catch (e) {
      opts.notice?.(`could not list runs: ${(e as Error).message}`);
      runs = [];
    }
    conn.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, runs });
  }

  function onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (!conn.bucket.take()) {
      conn.send({ type: 'error', code: 'rate_limited', message: `more than ${MESSAGES_PER_SECOND} messages a second; this one was dropped, slow down` });
      return;
    }
    if (isBinary) {
      conn.send({ type: 'error', code: 'bad_message', message: 'binary frames are not accepted; send JSON text' });
      return;
    }
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) {
      conn.send({ type: 'error', ...parsed.error });
      return;
    }
    handler.handle(conn, parsed.message).catch((e: unknown) => {
      // Not a UserError: a bug. Said to the client and logged, never fatal to the sidecar.
      opts.notice?.(`internal error handling ${parsed.message.type}: ${(e as Error)?.stack ?? e}`);
      conn.send({ type: 'error', code: 'internal_error', message: `the sidecar failed handling ${parsed.message.type}: ${(e as Error)?.message ?? e}`, ...(parsed.message.requestId !== undefined ? { requestId: parsed.message.requestId } : {}) });
    });
  }

  function serveHttp(req: IncomingMessage, res: ServerResponse): void {
    setSecurityHeaders(res, port);
    if (!hostAllowed(req.headers.host)) return text(res, 403, 'Forbidden: the Host header must be 127.0.0.1 or localhost with this port');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return text(res, 405, 'Method not allowed');
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.searchParams.has('token')) {
      if (!tokenMatches(url.searchParams.get('token'))) return text(res, 401, 'Unauthorized: this token is not valid (the sidecar prints a new one each time it starts)');
      res.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      // The rest of the query (which run to show, say) stays; only the token leaves the address bar.
      url.searchParams.delete('token');
      res.setHeader('Location', url.pathname + url.search);
      res.setHeader('Cache-Control', 'no-store');
      res.statusCode = 302;
      res.end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return text(res, 400, 'Bad request: malformed URL');
    }
    if (pathname.includes('\0')) return text(res, 400, 'Bad request');
    if (!staticDir) return text(res, 404, 'The dashboard is not built; run `npm run build`');
    const file = staticFile(staticDir, pathname === '/' ? '/index.html' : pathname);
    if (!file) return text(res, 404, 'Not found');
    res.statusCode = 200;
    res.setHeader('Content-Type', CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    const body = readFileSync(file);
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;

  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, opts.pingIntervalMs ?? PING_INTERVAL_MS);
  heartbeat.unref();
  const system = systemSampler((msg) => {
    for (const c of connections) c.send(msg);
  });

  return {
    port,
    token,
    url: `ws://127.0.0.1:${port}/?token=${token}`,
    dashboardUrl: `http://127.0.0.1:${port}/?token=${token}`,
    handler,
    close: async () => {
      clearInterval(heartbeat);
      clearInterval(system);
      for (const c of connections) c.ws.close(1001, 'the sidecar is shutting down');
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
        setTimeout(() => {
          for (const c of connections) c.ws.terminate();
        }, 500).unref();
      });
    },
  };
}

/** One WebSocket client: rate limit, liveness, and a send that never lets a slow reader stall training. */
class Connection implements Client {
  alive = true;
  readonly bucket = new TokenBucket(MESSAGES_PER_SECOND, MESSAGES_PER_SECOND);
  dropped = 0;

  constructor(readonly id: number, readonly ws: WebSocket) {}

  send(msg: ServerMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const behind = this.ws.bufferedAmount;
    if (behind > DEAD_CLIENT_BYTES) {
      this.ws.terminate();
      return;
    }
    // Metrics are already aggregated and the next one supersedes this one: a client this far behind
    // skips them (its chart has a gap) until it catches up; state, eval, applied and replies always go.
    if (behind > SLOW_CLIENT_BYTES && DROPPABLE.has(msg.type)) {
      this.dropped++;
      return;
    }
    this.ws.send(JSON.stringify(msg));
  }
}

/** A token bucket: `capacity` messages at once, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly capacity: number, private readonly perSecond: number) {
    this.tokens = capacity;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function systemSampler(send: (msg: ServerMessage) => void): NodeJS.Timeout {
  let cpu = process.cpuUsage();
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const cpuPercent = ((used.user + used.system) / 1000 / Math.max(1, now - at)) * 100;
    at = now;
    send({ type: 'system', cpuPercent, rssBytes: process.memoryUsage.rss() });
  }, SYSTEM_INTERVAL_MS);
  timer.unref();
  return timer;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reason = status === 401 ? 'Unauthorized' : 'Forbidden';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function setSecurityHeaders(res: ServerResponse, port: number): void {
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src ws://127.0.0.1:${port} ws://localhost:${port}; img-src 'self' data:`,
  );
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

function text(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(body);
}

/** A file inside the bundle folder, or undefined: no traversal, no symlink out, no folders. */
function staticFile(root: string, pathname: string): string | undefined {
  const candidate = resolve(join(root, pathname));
  if (!isInside(root, candidate)) return undefined;
  try {
    const real = realpathSync(candidate);
    if (!isInside(root, real) || !statSync(real).isFile()) return undefined;
    return real;
  } catch {
    return undefined;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** The dashboard bundle next to the running code: dist/webview beside dist/cli.js, or from the sources. */
export function dashboardDir(): string {
  const candidates = [join(__dirname, 'webview'), join(__dirname, '..', 'dist', 'webview'), join(__dirname, '..', '..', 'dist', 'webview')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates.find((d) => existsSync(d)) ?? candidates[0];
}
