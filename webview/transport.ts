// How the dashboard talks to the sidecar: one interface, two implementations. Inside VS Code the
// extension host is the WebSocket client and relays with postMessage; in a plain browser served by the
// sidecar the page opens the WebSocket itself. Messages are checked with the protocol module either way.
import { hostBatchSchema, hostMessageSchema, parseServerMessage, validateServerMessage, type ClientMessage, type ConnectionState, type PaceMessage, type ReadyMessage, type ServerMessage } from '../sidecar/protocol';

export type { ConnectionState } from '../sidecar/protocol';

/** What survives a reload of the page or of the VS Code webview: small settings, never run data. */
export interface PersistedState {
  primaryRunId?: string;
  overlaidRunIds?: string[];
  smoothing?: number;
  logLoss?: boolean;
  /** The comparison over seeds shown, and its band (min-max or -+1 std). */
  openGroupId?: string;
  groupBand?: 'minmax' | 'std';
}

export interface Transport {
  send(msg: ClientMessage): boolean;
  onMessage(cb: (msg: ServerMessage) => void): void;
  onState(cb: (state: ConnectionState, detail?: string) => void): void;
  /** Reports a message that failed validation (shown, never thrown). */
  onInvalid(cb: (error: string) => void): void;
  loadState(): PersistedState;
  saveState(state: PersistedState): void;
  /** Called once the dashboard's handlers are in place. */
  start(): void;
  /** How often the page draws the live stream now (drawScheduler.ts). */
  pace(drawEveryMs: number): void;
}

/** Messages between the webview and the extension host that are not protocol messages. */

abstract class BaseTransport implements Transport {
  protected messageCbs: Array<(m: ServerMessage) => void> = [];
  protected stateCbs: Array<(s: ConnectionState, detail?: string) => void> = [];
  protected invalidCbs: Array<(e: string) => void> = [];
  abstract send(msg: ClientMessage): boolean;
  abstract loadState(): PersistedState;
  abstract saveState(state: PersistedState): void;
  abstract start(): void;
  abstract pace(drawEveryMs: number): void;
  onMessage(cb: (m: ServerMessage) => void): void {
    this.messageCbs.push(cb);
  }
  onState(cb: (s: ConnectionState, detail?: string) => void): void {
    this.stateCbs.push(cb);
  }
  onInvalid(cb: (e: string) => void): void {
    this.invalidCbs.push(cb);
  }
  protected emitState(s: ConnectionState, detail?: string): void {
    for (const cb of this.stateCbs) cb(s, detail);
  }
  protected emit(parsed: ReturnType<typeof validateServerMessage>): void {
    if (!parsed.ok) {
      for (const cb of this.invalidCbs) cb(parsed.error.message);
      return;
    }
    for (const cb of this.messageCbs) cb(parsed.message);
  }
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export function inVsCode(): boolean {
  return typeof (globalThis as { acquireVsCodeApi?: unknown }).acquireVsCodeApi === 'function';
}

/** Inside a VS Code webview: the extension relays protocol messages and says whether the sidecar is up. */
export class PostMessageTransport extends BaseTransport {
  private readonly vscode = acquireVsCodeApi();

  start(): void {
    window.addEventListener('message', (event: MessageEvent) => {
      const host = hostMessageSchema.safeParse(event.data);
      if (host.success) {
        this.emitState(host.data.connection, host.data.detail);
        return;
      }
      // The live stream comes in batches (extension/relay.ts): each message is checked and handled as if it came alone.
      const batch = hostBatchSchema.safeParse(event.data);
      if (batch.success) {
        for (const m of batch.data.messages) this.emit(validateServerMessage(m));
        return;
      }
      this.emit(validateServerMessage(event.data));
    });
    // The extension posts nothing before this (DVC's INITIALIZED): then it sends the whole state at once.
    const ready: ReadyMessage = { type: 'ready' };
    this.vscode.postMessage(ready);
  }

  send(msg: ClientMessage): boolean {
    this.vscode.postMessage(msg);
    return true;
  }

  /** The relay then posts the live stream at most twice a frame (extension/relay.ts). */
  pace(drawEveryMs: number): void {
    const pace: PaceMessage = { type: 'pace', drawEveryMs: Math.round(drawEveryMs) };
    this.vscode.postMessage(pace);
  }

  loadState(): PersistedState {
    return (this.vscode.getState() as PersistedState | undefined) ?? {};
  }

  saveState(state: PersistedState): void {
    this.vscode.setState(state);
  }
}

const STORAGE_KEY = 'adam-trainer.dashboard';

/** The runs a saved state shows, the open one first (the state may come from storage some other version wrote). */
function shownRuns(state: PersistedState): string[] {
  const ids = [state.primaryRunId, ...(Array.isArray(state.overlaidRunIds) ? state.overlaidRunIds : [])];
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && id.length > 0))];
}

/**
 * In a plain browser: the page served by the sidecar opens the WebSocket on its own origin. The token
 * comes in the page's URL once (`?token=`) and is then removed from the address bar; without one, the
 * server's HttpOnly cookie authenticates the upgrade. Reconnects with backoff when the socket closes.
 *
 * The page's URL names the run it shows (`?run=`, kept up to date as the user opens others, so a reload or a
 * bookmark shows the same run). The socket is opened as soon as the transport exists, before the dashboard builds
 * itself, and names the runs to show (`run=` on the socket's URL): the sidecar sends their histories right after
 * its hello, so they arrive while the page is still busy with its first layout. What arrives before `start()` waits.
 */
export class WebSocketTransport extends BaseTransport {
  private socket?: WebSocket;
  private token?: string;
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  /** The runs the page shows (the primary first), named when a socket opens. */
  private shown: string[];
  /** Until `start()`: what the socket said, in order. */
  private early?: Array<() => void> = [];

  constructor(private readonly location: Location = window.location) {
    super();
    const url = new URL(location.href);
    const token = url.searchParams.get('token');
    if (token) {
      this.token = token;
      url.searchParams.delete('token');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    }
    this.shown = shownRuns(this.loadState());
    this.connect();
  }

  start(): void {
    const early = this.early ?? [];
    this.early = undefined;
    for (const said of early) said();
  }

  /** Runs `said` now, or at `start()` if the dashboard's handlers are not in place yet. */
  private deliver(said: () => void): void {
    if (this.early) this.early.push(said);
    else said();
  }

  private connect(): void {
    const query = new URLSearchParams();
    if (this.token) query.set('token', this.token);
    for (const id of this.shown) query.append('run', id);
    const search = query.toString() ? `?${query}` : '';
    this.deliver(() => this.emitState('connecting'));
    const ws = new WebSocket(`ws://${this.location.host}/${search}`);
    this.socket = ws;
    ws.onopen = () => {
      performance.mark('adam:socket-open');
      this.attempt = 0;
      this.deliver(() => this.emitState('open'));
    };
    ws.onmessage = (event) => {
      const data: unknown = event.data;
      if (typeof data === 'string') this.deliver(() => this.emit(parseServerMessage(data)));
    };
    ws.onclose = (event) => {
      if (this.socket !== ws) return;
      this.socket = undefined;
      // 0.5 s, 1 s, 2 s ... capped at 10 s, with jitter so several tabs do not reconnect in step.
      const delayMs = Math.min(10_000, 500 * 2 ** this.attempt++) * (0.8 + 0.4 * Math.random());
      this.deliver(() => this.emitState('closed', event.code === 1008 ? 'the sidecar refused the connection (token or origin)' : `reconnecting in ${Math.round(delayMs / 1000)} s`));
      this.retryTimer = setTimeout(() => this.connect(), delayMs);
    };
  }

  send(msg: ClientMessage): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** Nothing to tell: the sidecar sends each live message as it comes, and the page keeps them until it draws. */
  pace(): void {}

  /** What the page showed last, with the run its URL names (`?run=`) as the open one. */
  loadState(): PersistedState {
    let state: PersistedState = {};
    try {
      const raw = localStorage.getItem(STORAGE_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : undefined;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) state = parsed as PersistedState;
    } catch {
      // Unreadable storage: defaults.
    }
    const named = new URL(this.location.href).searchParams.get('run');
    if (named) state = { ...state, primaryRunId: named, overlaidRunIds: Array.isArray(state.overlaidRunIds) ? state.overlaidRunIds.filter((id) => id !== named) : undefined };
    return state;
  }

  saveState(state: PersistedState): void {
    this.shown = shownRuns(state);
    const url = new URL(this.location.href);
    if (state.primaryRunId) url.searchParams.set('run', state.primaryRunId);
    else url.searchParams.delete('run');
    if (url.href !== this.location.href) history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch {
      // Storage can be disabled; the dashboard then starts from defaults after a reload.
    }
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.socket?.close();
  }
}

export function createTransport(): Transport {
  return inVsCode() ? new PostMessageTransport() : new WebSocketTransport();
}
