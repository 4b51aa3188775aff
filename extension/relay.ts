// Between the dashboard webview and the sidecar's WebSocket (the extension host is the WebSocket client).
// The webview says `ready` before anything is posted to it (DVC's INITIALIZED); it then gets the sidecar's
// connection state and the run list at once, and subscribes the runs it shows. Messages from the webview
// are validated with the protocol before they reach the sidecar. No `vscode` import: the panel wires
// `post` to its webview.
import { PROTOCOL_VERSION, readyMessageSchema, validateClientMessage, type ClientMessage, type ConnectionState, type HostMessage, type RunSummary, type ServerMessage } from '../sidecar/protocol';

export interface RelayEndpoints {
  /** Posts to the webview (`webview.postMessage`). */
  post(msg: ServerMessage | HostMessage): void;
  /** Sends to the sidecar; false when it is not connected. */
  send(msg: ClientMessage): boolean;
  /** Runs the extension itself follows (status bar, notifications): the webview may not unsubscribe them. */
  followed(): ReadonlySet<string>;
}

export class Relay {
  private ready = false;
  private connection: { state: ConnectionState; detail?: string } = { state: 'connecting' };
  private readonly runs = new Map<string, RunSummary>();
  private protocolVersion = PROTOCOL_VERSION;
  private helloSeen = false;
  /** Runs and comparisons started while the webview was not there (it is opened by the same command): replayed after `hello`. */
  private missedStarts: ServerMessage[] = [];

  constructor(private readonly endpoints: RelayEndpoints) {}

  /** A message from the webview: `ready`, or a protocol message for the sidecar. */
  fromWebview(raw: unknown): void {
    if (readyMessageSchema.safeParse(raw).success) {
      this.ready = true;
      this.postConnection();
      if (this.helloSeen) this.endpoints.post({ type: 'hello', protocolVersion: this.protocolVersion, runs: [...this.runs.values()] });
      // A command opens the dashboard and starts runs at once; the page usually says ready after they started.
      // Replaying their `started` lets it show them as a start would (a comparison overlaid, a fork beside its parent).
      for (const m of this.missedStarts.splice(0)) this.endpoints.post(m);
      return;
    }
    const checked = validateClientMessage(raw);
    if (!checked.ok) {
      this.endpoints.post({ type: 'error', code: checked.error.code, message: checked.error.message, ...(checked.error.field ? { field: checked.error.field } : {}) });
      return;
    }
    const msg = checked.message;
    if (msg.type === 'unsubscribe' && this.endpoints.followed().has(msg.runId)) return;
    if (!this.endpoints.send(msg)) {
      const requestId = msg.requestId;
      this.endpoints.post({ type: 'error', code: 'not_connected', message: 'The sidecar is not running; it is being started or restarted.', ...(requestId !== undefined ? { requestId } : {}) });
    }
  }

  /** A message from the sidecar: remembered (for the next `ready`) and passed on once the webview is ready. */
  fromSidecar(msg: ServerMessage): void {
    this.remember(msg);
    if (this.ready) this.endpoints.post(msg);
    else if (msg.type === 'started' || msg.type === 'comparing' || msg.type === 'classified') this.missedStarts.push(msg); // classified: Adam: Classify Image opens the dashboard
  }

  setConnection(state: ConnectionState, detail?: string): void {
    this.connection = { state, detail };
    if (state !== 'open') this.helloSeen = false;
    this.postConnection();
  }

  /** The webview went away (panel closed or its content destroyed): wait for its next `ready`. */
  webviewGone(): void {
    this.ready = false;
  }

  runList(): RunSummary[] {
    return [...this.runs.values()];
  }

  /** Whether the run list is the connected sidecar's (it said hello since the connection opened). */
  hasRunList(): boolean {
    return this.helloSeen;
  }

  private postConnection(): void {
    if (this.ready) this.endpoints.post({ type: 'host', connection: this.connection.state, ...(this.connection.detail ? { detail: this.connection.detail } : {}) });
  }

  private remember(msg: ServerMessage): void {
    switch (msg.type) {
      case 'hello':
      case 'runs':
        if (msg.type === 'hello') {
          this.protocolVersion = msg.protocolVersion;
          this.helloSeen = true;
        }
        this.runs.clear();
        for (const r of msg.runs) this.runs.set(r.runId, r);
        break;
      case 'started':
        this.runs.set(msg.runId, {
          runId: msg.runId,
          state: 'running',
          config: msg.config,
          createdAt: new Date().toISOString(),
          ...(msg.parentRunId ? { parentRunId: msg.parentRunId, forkStep: msg.forkStep } : {}),
          ...(msg.group ? { group: msg.group } : {}),
        });
        break;
      case 'state': {
        const r = this.runs.get(msg.runId);
        if (!r) break;
        const { orphaned: _wasOrphaned, ...rest } = r; // a run that reports a state has a live process again
        this.runs.set(msg.runId, { ...rest, state: msg.state, ...(msg.step !== undefined ? { step: msg.step } : {}) });
        break;
      }
      case 'eval': {
        const r = this.runs.get(msg.runId);
        if (r) this.runs.set(msg.runId, { ...r, step: msg.step, testAccuracy: msg.testAccuracy });
        break;
      }
    }
  }
}
