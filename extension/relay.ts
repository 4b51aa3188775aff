// Between the dashboard webview and the sidecar's WebSocket (the extension host is the WebSocket client).
// The webview says `ready` before anything is posted to it (DVC's INITIALIZED); it then gets the sidecar's
// connection state and the run list at once, and subscribes the runs it shows. Messages from the webview
// are validated with the protocol before they reach the sidecar. No `vscode` import: the panel wires
// `post` to its webview.
//
// The live stream (metrics, step histograms, routine checkpoints, system figures: about 19 messages a second at batch
// 4) is posted in batches: in VS Code each post crosses the extension host's RPC, the workbench and two frames before
// the page sees it, and all of them share the cores with the run (issue 13). A batch waits BATCH_MS, or half the
// page's draw interval once the page has said it (`pace`: it draws less often while frames cost more), up to
// MAX_BATCH_MS: at most two posts for each frame the page draws, so it loses nothing. Anything else (a reply, a state
// change, an error) is posted at once, after the batch waiting before it, so the order is the sidecar's.
//
// While no page is ready (the panel hidden or closed) the relay asks the sidecar for the `status` level of the stream
// (server/liveLevel.ts): what the status bar, the Runs view and notifications use, not the step histograms and the
// metrics several times a second that it would only parse and drop here. A page that says ready gets `all` again before
// it subscribes, and the histories it asks for hold what it missed.
import { MAX_BATCH_MESSAGES, PROTOCOL_VERSION, paceMessageSchema, readyMessageSchema, validateClientMessage, type ClientMessage, type ConnectionState, type HostBatch, type HostMessage, type RunSummary, type ServerMessage } from '../sidecar/protocol';

/** How long a live message may wait for others to share its post, until the page says how often it draws. */
export const BATCH_MS = 250;
/** The longest a live message waits, however slowly the page draws (its draw interval is at most 2 s). */
export const MAX_BATCH_MS = 1000;

/** The wait of a batch for a page that draws every `drawEveryMs`: half of that, within BATCH_MS and MAX_BATCH_MS. */
export function batchWaitMs(drawEveryMs: number): number {
  return Math.min(MAX_BATCH_MS, Math.max(BATCH_MS, drawEveryMs / 2));
}

/** The live stream, which may wait for its batch (BATCH_MS to MAX_BATCH_MS): everything else is posted at once. */
function batched(msg: ServerMessage): boolean {
  return msg.type === 'metrics' || msg.type === 'stepHistogram' || msg.type === 'system' || (msg.type === 'checkpointed' && msg.requestId === undefined);
}

export interface RelayEndpoints {
  /** Posts to the webview (`webview.postMessage`). */
  post(msg: ServerMessage | HostMessage | HostBatch): void;
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
  /** Live messages waiting for their batch, and the timer that posts it. */
  private queue: ServerMessage[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  /** How long the next batch waits (BATCH_MS until the page says its pace). */
  private batchMs = BATCH_MS;

  constructor(private readonly endpoints: RelayEndpoints) {}

  /** A message from the webview: `ready`, its `pace`, or a protocol message for the sidecar. */
  fromWebview(raw: unknown): void {
    const pace = paceMessageSchema.safeParse(raw);
    if (pace.success) {
      this.batchMs = batchWaitMs(pace.data.drawEveryMs);
      return;
    }
    if (readyMessageSchema.safeParse(raw).success) {
      this.ready = true;
      this.sendLevel();
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
    if (msg.type === 'live') return; // the relay's to say, for the page and the extension both
    if (!this.endpoints.send(msg)) {
      const requestId = msg.requestId;
      this.endpoints.post({ type: 'error', code: 'not_connected', message: 'The sidecar is not running; it is being started or restarted.', ...(requestId !== undefined ? { requestId } : {}) });
    }
  }

  /** A message from the sidecar: remembered (for the next `ready`) and passed on once the webview is ready. */
  fromSidecar(msg: ServerMessage): void {
    this.remember(msg);
    if (this.ready) {
      if (batched(msg)) {
        this.queue.push(msg);
        if (this.queue.length >= MAX_BATCH_MESSAGES) this.flush(); // a comparison of many runs at once
        else this.timer ??= setTimeout(() => this.flush(), this.batchMs);
      } else {
        this.flush();
        this.endpoints.post(msg);
      }
    } else if (msg.type === 'started' || msg.type === 'comparing' || msg.type === 'classified') this.missedStarts.push(msg); // classified: Adam: Classify Image opens the dashboard
  }

  setConnection(state: ConnectionState, detail?: string): void {
    this.connection = { state, detail };
    if (state !== 'open') this.helloSeen = false;
    else this.sendLevel(); // a new connection starts at `all`: say what this one needs
    this.postConnection();
  }

  /** The webview went away (panel closed or its content destroyed): wait for its next `ready`. */
  webviewGone(): void {
    const wasReady = this.ready;
    this.ready = false;
    if (wasReady) this.sendLevel();
    this.batchMs = BATCH_MS; // the next page times its own frames
    // What it had not seen yet comes with the history it asks for when it is back.
    this.queue = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Posts the waiting live messages: one alone as itself, several as one `batch`. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const messages = this.queue;
    if (messages.length === 0) return;
    this.queue = [];
    this.endpoints.post(messages.length === 1 ? messages[0] : { type: 'batch', messages });
  }

  dispose(): void {
    this.webviewGone();
  }

  runList(): RunSummary[] {
    return [...this.runs.values()];
  }

  /** Whether the run list is the connected sidecar's (it said hello since the connection opened). */
  hasRunList(): boolean {
    return this.helloSeen;
  }

  /** Tells the sidecar how much of the live stream this connection needs now: all of it while a page shows it. */
  private sendLevel(): void {
    if (this.connection.state === 'open') this.endpoints.send({ type: 'live', level: this.ready ? 'all' : 'status' });
  }

  private postConnection(): void {
    if (!this.ready) return;
    this.flush();
    this.endpoints.post({ type: 'host', connection: this.connection.state, ...(this.connection.detail ? { detail: this.connection.detail } : {}) });
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
