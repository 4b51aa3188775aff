// One HTTP(S) GET to a file, with node's own http/https: redirects followed (never from https to http: that would
// hand the download to whoever sits on the network path), a stall (no bytes for timeoutMs, connecting included) is
// an error, a body larger than maxBytes is refused (by its Content-Length, or as it arrives), and the MD5 is computed
// as the bytes arrive so the archive need not be read again before it is checked.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';

const MAX_REDIRECTS = 5;
const PROGRESS_BYTES = 1 << 20; // one progress report a MiB

// Why a download failed, in a few words for the one-line notice; `permanent` errors (HTTP 4xx) are not
// worth a retry.
export class HttpDownloadError extends Error {
  constructor(readonly reason: string, readonly permanent = false) {
    super(reason);
  }
}

// Set when the request was ended for lack of data.
type Stall = { error?: HttpDownloadError };

export interface HttpDownloadOptions {
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

// A stall destroys the request with stall.error, so that it, not the socket's "aborted", is what gets reported.
function get(url: URL, opts: HttpDownloadOptions, stall: Stall): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new HttpDownloadError(`unsupported URL ${url.href}`, true));
  return new Promise((resolve, reject) => {
    // `timeout` here (unlike request.setTimeout) also covers the DNS lookup and the connection.
    const req = client.get(url, { timeout: opts.timeoutMs, signal: opts.signal }, resolve);
    req.on('timeout', () => {
      stall.error = new HttpDownloadError(`no data from ${url.host} for ${opts.timeoutMs / 1000} s`);
      req.destroy(stall.error);
    });
    req.on('error', reject);
  });
}

// Every failure but a cancellation becomes an HttpDownloadError with a short reason.
function reason(e: unknown, stall: Stall, signal?: AbortSignal): unknown {
  if (signal?.aborted || (e as Error)?.name === 'AbortError') return e;
  if (stall.error) return stall.error;
  if (e instanceof HttpDownloadError) return e;
  const message = (e as Error)?.message ?? String(e);
  return new HttpDownloadError(message === 'aborted' ? 'connection closed mid-download' : message);
}

// Resolves with the MD5 (hex) of what was written to `file`.
export async function httpDownload(url: string, file: string, opts: HttpDownloadOptions): Promise<string> {
  const stall: Stall = {};
  try {
    return await download(url, file, opts, stall);
  } catch (e) {
    throw reason(e, stall, opts.signal);
  }
}

async function download(url: string, file: string, opts: HttpDownloadOptions, stall: Stall): Promise<string> {
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const res = await get(current, opts, stall);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (redirects === MAX_REDIRECTS) throw new HttpDownloadError(`too many redirects from ${url}`, true);
      const next = new URL(res.headers.location, current);
      if (current.protocol === 'https:' && next.protocol !== 'https:') {
        throw new HttpDownloadError(`refused a redirect from ${current.href} to ${next.href}: an https download is never continued over ${next.protocol.slice(0, -1)}`, true);
      }
      current = next;
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new HttpDownloadError(`HTTP ${status} ${res.statusMessage ?? ''}`.trim(), status >= 400 && status < 500);
    }
    const total = Number(res.headers['content-length'] ?? 0);
    const bytes = (n: number) => n.toLocaleString('en-US');
    const tooLarge = () => new HttpDownloadError(`the server sends more than ${bytes(opts.maxBytes)} bytes, more than the file can be`, true);
    if (total > opts.maxBytes) {
      res.destroy();
      throw tooLarge();
    }
    const md5 = createHash('md5');
    let done = 0;
    let reported = 0;
    // Opened (created) before the first byte: a write stream opens its file lazily, and one ended at once by an error
    // could create it after the caller has removed what it left.
    const out = await fsp.open(file, 'w');
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          done += chunk.length;
          if (done > opts.maxBytes) throw tooLarge();
          md5.update(chunk);
          if (done - reported >= PROGRESS_BYTES) {
            reported = done;
            opts.onProgress?.(done, total);
          }
          yield chunk;
        }
      },
      out.createWriteStream(),
    ).finally(() => out.close().catch(() => undefined));
    if (total > 0 && done !== total) {
      throw new HttpDownloadError(`connection closed after ${bytes(done)} of ${bytes(total)} bytes`);
    }
    opts.onProgress?.(done, total || done);
    return md5.digest('hex');
  }
}
