// One WebSocket client of the sidecar: its rate limit (a token bucket), its liveness (ping/pong), and a send that
// never lets a slow reader stall training.
import { WebSocket, type RawData } from 'ws';
import type { ServerMessage } from '../protocol';
import type { Client } from '../runManager';
import { LiveLevelFilter } from './liveLevel';

export const MESSAGES_PER_SECOND = 200;
/** Past this much unsent data, a client only gets what it cannot do without (no metrics, no system). */
const SLOW_CLIENT_BYTES = 1 << 20;
/** Past this, a client is not reading at all: it is dropped rather than allowed to grow our memory. */
const DEAD_CLIENT_BYTES = 64 << 20;
const DROPPABLE = new Set<ServerMessage['type']>(['metrics', 'system', 'progress']);

/** One WebSocket client: rate limit, liveness, and a send that never lets a slow reader stall training. */
export class Connection implements Client {
  alive = true;
  readonly bucket = new TokenBucket(MESSAGES_PER_SECOND, MESSAGES_PER_SECOND);
  /** How much of the live stream this client asked for (the message `live`): all of it until it says otherwise. */
  readonly live = new LiveLevelFilter();

  constructor(readonly id: number, readonly ws: WebSocket) {}

  send(msg: ServerMessage): void {
    if (this.live.level === 'all') this.write(msg);
    else for (const m of this.live.pass(msg, performance.now())) this.write(m);
  }

  private write(msg: ServerMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const behind = this.ws.bufferedAmount;
    if (behind > DEAD_CLIENT_BYTES) {
      this.ws.terminate();
      return;
    }
    // Metrics are already aggregated and the next one supersedes this one: a client this far behind
    // skips them (its chart has a gap) until it catches up; state, eval, applied and replies always go.
    if (behind > SLOW_CLIENT_BYTES && DROPPABLE.has(msg.type)) {
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

/** A text frame's bytes as a string (ws hands them over as one or several buffers). */
export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
