// How much of its runs' live stream one connection gets (the client message `live`). VS Code's extension host is one
// connection for the status bar, the Runs view and the dashboard's webview; while no webview shows the stream (the
// panel hidden or closed) it asks for `status`: what the status bar, the Runs view and notifications use. The rest
// of the stream would only be received, parsed and dropped there, at about 0.012 cores on the cores the run trains on
// (BENCHMARKS.md thirty-second round); a page that comes back asks for its runs' histories, which hold it all.
import { STATUS_METRICS_MS, isEnded, type LiveLevel, type ServerMessage } from '../protocol';

type MetricsMessage = Extract<ServerMessage, { type: 'metrics' }>;

/** Whether a message is part of the stream that only a page drawing it needs. */
function pageOnly(msg: ServerMessage): boolean {
  return msg.type === 'stepHistogram' || msg.type === 'system' || (msg.type === 'checkpointed' && msg.requestId === undefined);
}

/**
 * One connection's level and, at `status`, what it has been sent: each run's metrics pass at most once every
 * STATUS_METRICS_MS, and a run's newest metrics held back go out before that run's next other message (a state
 * change, an evaluation), so that what a client shows at a run's end is the run's last figures.
 */
export class LiveLevelFilter {
  private current: LiveLevel = 'all';
  private readonly metricsSentAt = new Map<string, number>();
  private readonly held = new Map<string, MetricsMessage>();

  get level(): LiveLevel {
    return this.current;
  }

  set level(level: LiveLevel) {
    this.current = level;
    this.metricsSentAt.clear();
    this.held.clear();
  }

  /** The messages to send in place of `msg` at time `now` (ms), in order: none, `msg`, or a held metrics and `msg`. */
  pass(msg: ServerMessage, now: number): ServerMessage[] {
    if (this.current === 'all') return [msg];
    if (pageOnly(msg)) return [];
    if (msg.type === 'metrics') {
      const last = this.metricsSentAt.get(msg.runId);
      if (last !== undefined && now - last < STATUS_METRICS_MS) {
        this.held.set(msg.runId, msg);
        return [];
      }
      this.metricsSentAt.set(msg.runId, now);
      this.held.delete(msg.runId);
      return [msg];
    }
    const runId = 'runId' in msg ? msg.runId : undefined;
    if (runId === undefined) return [msg];
    const held = this.held.get(runId);
    if (msg.type === 'state' && isEnded(msg.state)) this.metricsSentAt.delete(runId); // no map grows with the runs that ended
    if (held === undefined) return [msg];
    this.held.delete(runId);
    return [held, msg];
  }
}
