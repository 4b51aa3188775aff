// Who may talk to the sidecar (DESIGN.md "Security of the local server", after Jupyter Server's and VS Code's
// lessons): a random token compared in constant time; the Host header must name a loopback address with our
// port (DNS rebinding); the Origin, when present, must be exactly our own (cross-site WebSocket hijacking).
// Checked in the HTTP `upgrade` handler, before the WebSocket exists, and for every HTTP request.
//
// How the browser dashboard authenticates: the URL we hand out is `http://127.0.0.1:P/?token=T`. The server
// answers it with a redirect to `/` that sets the token as an HttpOnly, SameSite=Strict cookie (named per port,
// since cookies are shared across ports), so the token leaves the address bar and the page's script never holds
// it; the page then opens `ws://<its host>/` and the browser sends the cookie. Clients that are not browsers
// (the extension host) put the token in the query: `ws://127.0.0.1:P/?token=T`.
//
// Over a Unix domain socket (`serve --socket`, what the extension uses off Windows) there is no host for a page to
// rebind and no port: the Host check does not apply, and any Origin is refused, since no browser page can open such a
// socket. The token is still required.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

export class Access {
  readonly token = randomBytes(32).toString('base64url');
  private readonly tokenHash = sha256(this.token);
  /** The port, once the server listens (the Host and Origin checks and the cookie's name depend on it). */
  port = 0;
  /** Listening on a Unix domain socket instead of a port. */
  overSocket = false;

  tokenMatches(given: string | undefined | null): boolean {
    return typeof given === 'string' && timingSafeEqual(sha256(given), this.tokenHash);
  }

  get cookieName(): string {
    return `adam_trainer_token_${this.port}`;
  }

  hostAllowed(host: string | undefined): boolean {
    return host !== undefined && [`127.0.0.1:${this.port}`, `localhost:${this.port}`, `[::1]:${this.port}`].includes(host.toLowerCase());
  }

  originAllowed(origin: string): boolean {
    if (this.overSocket) return false;
    return origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`;
  }

  /** Why a WebSocket upgrade is refused ([status, sentence]), or null when it may go ahead. */
  refusal(req: IncomingMessage): [number, string] | null {
    if (!this.overSocket && !this.hostAllowed(req.headers.host)) return [403, 'Forbidden: the Host header must be 127.0.0.1 or localhost with this port'];
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin)) return [403, 'Forbidden: cross-origin WebSocket connections are refused'];
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const given = url.searchParams.get('token') ?? cookie(req, this.cookieName);
    if (!this.tokenMatches(given)) return [401, 'Unauthorized: a valid token is required'];
    return null;
  }
}

/** Answers a refused upgrade on the raw socket and closes it. */
export function refuse(socket: Duplex, status: number, message: string): void {
  const reason = status === 401 ? 'Unauthorized' : 'Forbidden';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
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
