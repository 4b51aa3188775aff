// The sidecar's local server: the dashboard over HTTP and the protocol over a WebSocket, on one port of
// 127.0.0.1. This file puts the pieces together: who may connect (server/access.ts, checked in the `upgrade`
// handler before the WebSocket exists), the dashboard's files (server/dashboardFiles.ts), each client's rate
// limit and backpressure (server/connection.ts), and the message handler (runManager.ts) that every validated
// message goes to.
import { existsSync, realpathSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { PROTOCOL_VERSION, isRunId, parseClientMessage, type ClientMessage, type RunSummary } from './protocol';
import { type MessageHandler, RunManager } from './runManager';
import { RunStore } from './store/runs';
import { Access, LOOPBACK_HOSTS, refuse } from './server/access';
import { Connection, MESSAGES_PER_SECOND, rawText } from './server/connection';
import { serveDashboard } from './server/dashboardFiles';
import { systemSampler } from './server/systemSampler';
export { dashboardDir } from './server/dashboardFiles';

export const MAX_FRAME_BYTES = 1_048_576;
const PING_INTERVAL_MS = 15_000;
/** Most runs a socket URL's `run` parameters subscribe at connect (a page shows one run and a few overlaid). */
export const MAX_RUNS_AT_CONNECT = 8;

export interface ServerOptions {
  runsDir: string;
  cacheDir: string;
  host?: string;
  port?: number;
  /** Listen on this Unix domain socket instead of host:port (access.ts: no Host check, no browser page). */
  socketPath?: string;
  /** The dashboard bundle (dist/webview): index.html, dashboard.js, ... Nothing outside it is served. */
  staticDir?: string;
  /** What handles client messages; a RunManager over `runsDir` unless given. */
  handler?: MessageHandler;
  workers?: number;
  /** Most runs training at once (RunManager's maxRuns). */
  maxRuns?: number;
  notice?: (line: string) => void;
  /** How often clients are pinged; one that has not answered the previous ping is dropped. */
  pingIntervalMs?: number;
}

export interface RunningServer {
  /** 0 on a Unix domain socket. */
  port: number;
  /** The Unix domain socket it listens on, if it does. */
  socketPath?: string;
  token: string;
  /** The WebSocket URL with the token (the `listening` line's `url`). */
  url: string;
  /** The dashboard URL with the token; answered with a redirect that sets the cookie. Empty on a Unix domain socket,
   *  which no browser can open. */
  dashboardUrl: string;
  handler: MessageHandler;
  /** Closes every connection and the listening socket; runs are the handler's (call its shutdown first). */
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) throw new Error(`the sidecar binds loopback addresses only, not ${host}`);
  const handler = opts.handler ?? new RunManager({ store: new RunStore(opts.runsDir), cacheDir: opts.cacheDir, workers: opts.workers, maxRuns: opts.maxRuns, notice: opts.notice });
  const access = new Access();
  const staticDir = opts.staticDir !== undefined && existsSync(opts.staticDir) ? realpathSync(opts.staticDir) : undefined;

  const server = createServer((req, res) => serveDashboard(req, res, access, staticDir));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const connections = new Set<Connection>();
  let nextId = 1;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refusal = access.refusal(req);
    if (refusal) return refuse(socket, ...refusal);
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req.url));
  });

  function accept(ws: WebSocket, url: string | undefined): void {
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
    // The runs the page is about to show, named in the socket's URL (`?run=`, from the page's own URL or what it
    // showed last): subscribed now, so their histories arrive while the page still builds itself instead of a round
    // trip after its first layout.
    const named = runsNamed(url);
    const known = new Set(runs.map((r) => r.runId));
    const subscribed = named.filter((id) => isRunId(id) && known.has(id));
    conn.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, runs, ...(named.length ? { subscribed } : {}) });
    for (const id of named) {
      if (!isRunId(id)) conn.send({ type: 'error', code: 'bad_message', message: `the connection's URL names run ${JSON.stringify(id.slice(0, 140))}, which is not a run id (letters, digits, . _ -)` });
      else if (!known.has(id)) conn.send({ type: 'error', code: 'unknown_run', message: `the connection's URL names run ${id}, which is not in the runs folder`, runId: id });
    }
    for (const runId of subscribed) dispatch(conn, { type: 'subscribe', runId });
  }

  function runsNamed(url: string | undefined): string[] {
    let named: string[];
    try {
      named = new URL(url ?? '/', 'http://127.0.0.1').searchParams.getAll('run');
    } catch {
      return [];
    }
    return [...new Set(named)].slice(0, MAX_RUNS_AT_CONNECT);
  }

  function dispatch(conn: Connection, msg: ClientMessage): void {
    handler.handle(conn, msg).catch((e: unknown) => {
      // Not a UserError: a bug. Said to the client and logged, never fatal to the sidecar.
      opts.notice?.(`internal error handling ${msg.type}: ${(e as Error)?.stack ?? e}`);
      conn.send({ type: 'error', code: 'internal_error', message: `the sidecar failed handling ${msg.type}: ${(e as Error)?.message ?? e}`, ...(msg.requestId !== undefined ? { requestId: msg.requestId } : {}) });
    });
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
    // The connection's own setting, not a request to the runs (server/liveLevel.ts).
    if (parsed.message.type === 'live') conn.live.level = parsed.message.level;
    else dispatch(conn, parsed.message);
  }

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolvePromise();
    };
    if (opts.socketPath !== undefined) server.listen(opts.socketPath, listening);
    else server.listen(opts.port ?? 0, host, listening);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  access.port = port;
  access.overSocket = opts.socketPath !== undefined;

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

  const { token } = access;
  return {
    port,
    ...(opts.socketPath !== undefined ? { socketPath: opts.socketPath } : {}),
    token,
    // ws's form for a socket: the socket's path, a colon, then the request's path.
    url: opts.socketPath !== undefined ? `ws+unix://${opts.socketPath}:/?token=${token}` : `ws://127.0.0.1:${port}/?token=${token}`,
    dashboardUrl: opts.socketPath !== undefined ? '' : `http://127.0.0.1:${port}/?token=${token}`,
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
