// Supervision of the sidecar process, shaped like vscode-languageclient's: fork the bundled command line
// with VS Code's own Node, read the `listening` handshake from its first stdout line (never logged: it
// holds the token), connect a WebSocket client, and restart the process when it crashes, resuming the runs
// it was training from their latest checkpoints. After 5 crashes within 3 minutes it stops trying.
// Off Windows the sidecar listens on a Unix domain socket in a private folder of its own (serve --socket), not on a
// port: in a remote window (code-server, Remote - SSH, WSL, a container) VS Code forwards every TCP port it finds
// listening, so a port would show up in the Ports view and its "Your application is available" notification.
// No `vscode` import: the extension wires callbacks to the UI, the tests drive it with real processes.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { MAX_SOCKET_PATH_BYTES } from '../sidecar/server/socketPath';
import { LIVE_STATES, listeningSchema, parseServerMessage, type ClientMessage, type Listening, type ServerMessage } from '../sidecar/protocol';

export type SidecarState = 'stopped' | 'starting' | 'ready' | 'restarting' | 'failed';

export interface SidecarOptions {
  /** The plain-JavaScript command line to fork (the extension's own bin/adam-trainer.js). */
  script: string;
  runsDir: string;
  cacheDir: string;
  /** serve --max-runs (adamTrainer.maxRuns). */
  maxRuns?: number;
  /** Arguments instead of `serve --exit-with-parent --runs-dir … --cache-dir … [--socket …]` (tests use fixtures). */
  args?: string[];
  /** Listen on a Unix domain socket (the default off Windows) instead of a port. */
  socket?: boolean;
  /** Where the socket's private folder is made (os.tmpdir()). */
  tmpDir?: string;
  env?: NodeJS.ProcessEnv;
  maxCrashes?: number;
  crashWindowMs?: number;
  restartDelayMs?: number;
  killTimeoutMs?: number;
  listenTimeoutMs?: number;
}

export interface SidecarEvents {
  message(msg: ServerMessage): void;
  state(state: SidecarState, detail?: string): void;
  /** The sidecar's stderr and our own notes, for the output channel. */
  log(line: string): void;
}


export class Sidecar {
  private child?: ChildProcess;
  private socket?: WebSocket;
  private _state: SidecarState = 'stopped';
  private starting?: Promise<void>;
  private stopping = false;
  private crashes: number[] = [];
  private restartTimer?: ReturnType<typeof setTimeout>;
  /** Runs this sidecar was training (state by run id), to resume after a crash. */
  private readonly liveRuns = new Map<string, string>();
  private readonly resumeRequests = new Map<string, { runId: string; wasPaused: boolean }>();
  private nextResume = 1;
  private readonly opts: Required<Omit<SidecarOptions, 'args' | 'env' | 'maxRuns'>> & Pick<SidecarOptions, 'args' | 'env' | 'maxRuns'>;
  /** The private folder of the running sidecar's socket (removed when it exits). */
  private socketDir?: string;

  constructor(options: SidecarOptions, private readonly events: SidecarEvents) {
    this.opts = { maxCrashes: 5, crashWindowMs: 3 * 60_000, restartDelayMs: 1000, killTimeoutMs: 3000, listenTimeoutMs: 20_000, socket: process.platform !== 'win32', tmpDir: tmpdir(), ...options };
  }

  get state(): SidecarState {
    return this._state;
  }

  /** The process id, for tests and the log. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the sidecar if it is not running; resolves when the WebSocket is connected. */
  start(): Promise<void> {
    if (this._state === 'ready') return Promise.resolve();
    if (this._state === 'failed') {
      // A user asking again after we gave up gets a fresh budget.
      this.crashes = [];
    }
    this.stopping = false;
    this.starting ??= this.launch().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Sends a protocol message; one from outside our own code (the webview) is validated first. */
  /** Sends a message the extension built (typed) or the relay validated (from the webview): checked once, there. */
  send(msg: ClientMessage): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** SIGTERM (the sidecar checkpoints its runs and exits), then SIGKILL after killTimeoutMs. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.socket?.close();
    this.socket = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.events.log(`sidecar (pid ${child.pid}) did not exit within ${this.opts.killTimeoutMs} ms of SIGTERM; killing it`);
        child.kill('SIGKILL');
      }, this.opts.killTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    this.setState('stopped');
  }

  private setState(state: SidecarState, detail?: string): void {
    this._state = state;
    this.events.state(state, detail);
  }

  private async launch(): Promise<void> {
    this.setState(this.crashes.length ? 'restarting' : 'starting');
    const socket = this.opts.socket && !this.opts.args ? this.socketPath() : undefined;
    const args = this.opts.args ?? ['serve', '--exit-with-parent', '--runs-dir', this.opts.runsDir, '--cache-dir', this.opts.cacheDir, ...(this.opts.maxRuns !== undefined ? ['--max-runs', String(this.opts.maxRuns)] : []), ...(socket ? ['--socket', socket, '--remove-socket-folder'] : [])];
    // execArgv: [] so that the extension host's own flags (an inspector port, say) are not inherited.
    // ELECTRON_RUN_AS_NODE: inside VS Code, process.execPath is Electron; this makes it plain Node.
    const env = { ...(this.opts.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' };
    const child = fork(this.opts.script, args, { stdio: ['pipe', 'pipe', 'pipe', 'ipc'], execArgv: [], env });
    this.child = child;
    this.events.log(`sidecar started (pid ${child.pid})`);
    createInterface({ input: child.stderr! }).on('line', (line) => this.events.log(line));
    child.on('exit', (code, signal) => this.exited(child, code, signal));
    child.on('error', (e) => this.events.log(`sidecar process error: ${e.message}`));

    let listening: Listening;
    try {
      listening = await this.readHandshake(child);
      await this.connect(listening);
    } catch (e) {
      this.events.log(`sidecar did not start: ${(e as Error).message}`);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // counted as a crash by exited()
      throw e;
    }
    this.setState('ready');
    this.resumeInterruptedRuns();
  }

  /** The first stdout line, validated; everything after it on stdout is logged. */
  private readHandshake(child: ChildProcess): Promise<Listening> {
    return new Promise<Listening>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      let first = true;
      const timer = setTimeout(() => reject(new Error(`no handshake within ${this.opts.listenTimeoutMs} ms`)), this.opts.listenTimeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the sidecar exited (${signal ?? `code ${code}`}) before it was listening`));
      });
      lines.on('line', (line) => {
        if (!first) return this.events.log(line);
        first = false;
        clearTimeout(timer);
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          return reject(new Error('the sidecar\'s first line is not the JSON handshake'));
        }
        const parsed = listeningSchema.safeParse(value);
        if (!parsed.success) return reject(new Error(`the sidecar's handshake is malformed: ${parsed.error.issues[0]?.message}`));
        resolve(parsed.data);
      });
    });
  }

  private connect(listening: Listening): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // The token travels in the query; the URL is never logged.
      const where = listening.socket !== undefined ? `ws+unix://${listening.socket}:` : `ws://127.0.0.1:${listening.port}`;
      const ws = new WebSocket(`${where}/?token=${encodeURIComponent(listening.token)}`, { maxPayload: 64 * 2 ** 20 });
      ws.once('open', () => {
        this.socket = ws;
        resolve();
      });
      // Always listening: an 'error' without a listener would throw in the extension host.
      ws.on('error', (e) => {
        if (this.socket === ws) this.events.log(`sidecar connection error: ${e.message}`);
        reject(new Error(`cannot connect to the sidecar: ${e.message}`));
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const parsed = parseServerMessage(data.toString());
        if (!parsed.ok) return this.events.log(`ignored a malformed message from the sidecar: ${parsed.error.message}`);
        this.observe(parsed.message);
        this.events.message(parsed.message);
      });
      ws.on('close', () => {
        if (this.socket !== ws) return;
        this.socket = undefined;
        // The process is alive but we lost it: restarting it is the way back (its runs are checkpointed on SIGTERM).
        if (!this.stopping && this.child && this.child.exitCode === null) {
          this.events.log('lost the connection to the sidecar; restarting it');
          this.child.kill('SIGTERM');
        }
      });
    });
  }

  /** Keeps track of the runs being trained, so a crash can resume them. */
  private observe(msg: ServerMessage): void {
    switch (msg.type) {
      case 'started':
        this.liveRuns.set(msg.runId, 'running');
        if (msg.requestId !== undefined) {
          const resumed = this.resumeRequests.get(String(msg.requestId));
          this.resumeRequests.delete(String(msg.requestId));
          if (resumed?.wasPaused) this.send({ type: 'pause', runId: msg.runId });
        }
        break;
      case 'state':
        if (LIVE_STATES.has(msg.state)) this.liveRuns.set(msg.runId, msg.state);
        else this.liveRuns.delete(msg.runId);
        break;
      case 'error':
        if (msg.requestId !== undefined && this.resumeRequests.has(String(msg.requestId))) {
          const r = this.resumeRequests.get(String(msg.requestId))!;
          this.resumeRequests.delete(String(msg.requestId));
          this.events.log(`could not resume ${r.runId} after the restart: ${msg.message}`);
        }
        break;
    }
  }

  /** A new socket in a folder only we may enter (mkdtemp makes it 0700), so no other user can reach it; or none, and a
   *  port, when the temporary folder's path is too long for a socket's (TMPDIR, tmpDir in tests). */
  private socketPath(): string | undefined {
    this.removeSocketDir();
    const dir = mkdtempSync(join(this.opts.tmpDir, 'adam-trainer-'));
    const path = join(dir, 'sidecar.sock');
    if (Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES) {
      this.socketDir = dir;
      return path;
    }
    rmSync(dir, { recursive: true, force: true });
    this.events.log(`the temporary folder's path is too long for a Unix domain socket (${path}: more than ${MAX_SOCKET_PATH_BYTES} bytes); the sidecar listens on a loopback port instead`);
    return undefined;
  }

  /** The socket's folder, as the sidecar exits. It removes the socket and the folder itself when it exits on its own
   *  (--remove-socket-folder: also after the extension host was killed), but not when it is killed. */
  private removeSocketDir(): void {
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    this.socketDir = undefined;
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.removeSocketDir();
    this.socket?.close();
    this.socket = undefined;
    if (this.stopping) return;
    this.events.log(`sidecar exited unexpectedly (${signal ?? `code ${code}`})`);
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < this.opts.crashWindowMs), now];
    if (this.crashes.length >= this.opts.maxCrashes) {
      const minutes = Math.round(this.opts.crashWindowMs / 60_000);
      this.setState('failed', `The sidecar crashed ${this.crashes.length} times in ${minutes} minutes and will not be restarted.`);
      return;
    }
    this.setState('restarting', `The sidecar stopped unexpectedly; restarting it (${this.crashes.length} of ${this.opts.maxCrashes}).`);
    this.restartTimer = setTimeout(() => {
      this.start().catch(() => undefined); // a failed start is another crash, handled by exited()
    }, this.opts.restartDelayMs);
  }

  /** After a restart: each run that was training continues from its folder's newest checkpoint. */
  private resumeInterruptedRuns(): void {
    const interrupted = [...this.liveRuns];
    this.liveRuns.clear();
    for (const [runId, state] of interrupted) {
      const requestId = `resume-${this.nextResume++}`;
      this.resumeRequests.set(requestId, { runId, wasPaused: state === 'paused' });
      this.events.log(`resuming ${runId} from its latest checkpoint`);
      this.send({ type: 'start', config: {}, resumeFrom: join(this.opts.runsDir, runId), requestId });
    }
  }
}
