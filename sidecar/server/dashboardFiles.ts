// The dashboard over HTTP: the token redirect that sets the cookie (access.ts), then the files of the dashboard
// bundle and nothing outside it, with the page's Content-Security-Policy as a response header.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { isInside } from '../store/paths';
import type { Access } from './access';

export function serveDashboard(req: IncomingMessage, res: ServerResponse, access: Access, staticDir: string | undefined): void {
  setSecurityHeaders(res, access.port);
  if (!access.hostAllowed(req.headers.host)) return text(res, 403, 'Forbidden: the Host header must be 127.0.0.1 or localhost with this port');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return text(res, 405, 'Method not allowed');
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.searchParams.has('token')) {
    if (!access.tokenMatches(url.searchParams.get('token'))) return text(res, 401, 'Unauthorized: this token is not valid (the sidecar prints a new one each time it starts)');
    res.setHeader('Set-Cookie', `${access.cookieName}=${access.token}; HttpOnly; SameSite=Strict; Path=/`);
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
