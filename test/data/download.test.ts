// The download path against a real HTTP server on 127.0.0.1 serving a small archive built here with the
// same `tar` package: good, redirected, corrupt, cut off midway, missing, and no server at all.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import * as tar from 'tar';
import { DOWNLOAD_LOCK } from '../../sidecar/data/downloadLock';
import { HttpDownloadError, httpDownload } from '../../sidecar/data/httpDownload';
import { loadDataset, type Progress } from '../../sidecar/data/index';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { pixel, rejectsWith, tempDir, writeBinaryLayout } from './helpers';

interface Archive { bytes: Buffer; md5: string }

async function makeArchive(t: TestContext): Promise<Archive> {
  const dir = tempDir(t);
  writeBinaryLayout(join(dir, 'cifar-10-batches-bin'));
  await tar.c({ gzip: true, file: join(dir, 'a.tar.gz'), cwd: dir }, ['cifar-10-batches-bin']);
  const bytes = readFileSync(join(dir, 'a.tar.gz'));
  return { bytes, md5: createHash('md5').update(bytes).digest('hex') };
}

// handler(request number from 1, req, res); returns the archive URL and the number of requests so far.
async function serve(t: TestContext, handler: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void) {
  let requests = 0;
  const server = http.createServer((req, res) => handler(++requests, req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
  return { url, requests: () => requests };
}

function sendArchive(res: http.ServerResponse, archive: Archive): void {
  res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': archive.bytes.length });
  res.end(archive.bytes);
}

// Sends the headers for the whole archive, then half of it, then drops the connection.
function cutMidway(res: http.ServerResponse, archive: Archive): void {
  res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': archive.bytes.length });
  res.write(archive.bytes.subarray(0, archive.bytes.length >> 1), () => res.socket?.destroy());
}

// Nothing of a failed download may be left to be mistaken for a good one.
function assertNothingKept(cacheDir: string): void {
  const left = existsSync(cacheDir) ? readdirSync(cacheDir) : [];
  assert.deepEqual(left.filter((f) => f.startsWith('cifar-10') || f.startsWith('.extract')), []);
}

test('the archive is downloaded, checked, extracted and loaded, then reused without the network', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const cacheDir = join(tempDir(t), 'cache'); // does not exist yet
  const progress: Progress[] = [];
  const d = await loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, onProgress: (p) => progress.push(p) });
  assert.equal(d.train.count, 10);
  assert.equal(d.test.count, 3);
  assert.deepEqual([...d.test.labels], [9, 0, 5]);
  assert.equal(d.train.images[7 * IMAGE_BYTES + 100], pixel(7, 100));
  assert.equal(d.source, `CIFAR-10 binary at ${join(cacheDir, 'cifar-10-batches-bin')}`);
  assert.deepEqual(progress.find((p) => p.phase === 'download'), { phase: 'download', done: archive.bytes.length, total: archive.bytes.length });
  assert.deepEqual(progress.filter((p) => p.phase === 'extract').at(-1), { phase: 'extract', done: 6, total: 6 });
  assert.deepEqual(readdirSync(cacheDir).sort(), ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']);
  const again = await loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5 });
  assert.equal(again.train.count, 10);
  assert.equal(server.requests(), 1);
});

test('redirects are followed', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, req, res) => {
    if (req.url === '/moved') sendArchive(res, archive);
    else res.writeHead(302, { location: '/moved' }).end();
  });
  const d = await loadDataset({ cacheDir: tempDir(t), downloadUrl: server.url, expectedMd5: archive.md5 });
  assert.equal(d.train.count, 10);
});

test('a wrong checksum is an error naming both sums, and nothing is extracted or kept', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const cacheDir = tempDir(t);
  const wrong = '0'.repeat(32);
  await rejectsWith(loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: wrong, fallbackToSample: false }),
    'download_failed', `expected MD5 ${wrong}, got ${archive.md5}`);
  assertNothingKept(cacheDir);
});

test('a connection cut midway is retried once, and the retry is used', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (n, _req, res) => (n === 1 ? cutMidway(res, archive) : sendArchive(res, archive)));
  const cacheDir = tempDir(t);
  const d = await loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false });
  assert.equal(d.train.count, 10);
  assert.equal(server.requests(), 2);
  assert.equal(existsSync(join(cacheDir, 'cifar-10-binary.tar.gz.partial')), false);
});

test('a connection cut every time fails after one retry with a clear error, leaving no partial file', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, _req, res) => cutMidway(res, archive));
  const cacheDir = tempDir(t);
  await rejectsWith(loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false }),
    'download_failed', server.url, /connection closed/);
  assert.equal(server.requests(), 2);
  assertNothingKept(cacheDir);
});

test('a 404 fails at once, without a retry', async (t) => {
  const server = await serve(t, (_n, _req, res) => res.writeHead(404).end('no such file'));
  const cacheDir = tempDir(t);
  await rejectsWith(loadDataset({ cacheDir, downloadUrl: server.url, fallbackToSample: false }), 'download_failed', 'HTTP 404 Not Found');
  assert.equal(server.requests(), 1);
  assertNothingKept(cacheDir);
});

test('offline, it says so in one notice and loads the shipped sample', async (t) => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const notices: string[] = [];
  const cacheDir = tempDir(t);
  const d = await loadDataset({ cacheDir, downloadUrl: `http://127.0.0.1:${port}/x.tar.gz`, notice: (l) => notices.push(l) });
  assert.equal(d.train.count, 3000);
  assert.equal(d.test.count, 1000);
  assert.equal(d.source, 'built-in sample (3,000 train / 1,000 test images)');
  assert.equal(notices.length, 1);
  assert.equal(notices[0],
    `CIFAR-10 download unavailable (connect ECONNREFUSED 127.0.0.1:${port}); training on the built-in sample of ` +
      '4,000 real CIFAR-10 images instead. Use --data DIR for the full set.');
  assertNothingKept(cacheDir);
});

test('cancelling through the signal stops the download and does not fall back', async (t) => {
  const server = await serve(t, (_n, _req, res) => { res.writeHead(200, { 'content-length': 1000 }); res.write('x'); });
  const controller = new AbortController();
  const cacheDir = tempDir(t);
  const loading = loadDataset({ cacheDir, downloadUrl: server.url, signal: controller.signal, onProgress: () => undefined });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(loading, { name: 'AbortError' });
  assertNothingKept(cacheDir);
});

test('a server that stops sending is given up on after the stall timeout, before or after the headers', async (t) => {
  const archive = await makeArchive(t);
  const silent = await serve(t, () => undefined);
  const halfway = await serve(t, (_n, _req, res) => {
    res.writeHead(200, { 'content-length': archive.bytes.length });
    res.write(archive.bytes.subarray(0, 100));
  });
  const dir = tempDir(t);
  for (const server of [silent, halfway]) {
    const started = Date.now();
    await assert.rejects(httpDownload(server.url, join(dir, 'x.partial'), { timeoutMs: 200, maxBytes: 1 << 20 }),
      (e) => e instanceof HttpDownloadError && /^no data from 127\.0\.0\.1:\d+ for 0\.2 s$/.test(e.reason));
    assert.ok(Date.now() - started < 2000);
  }
});

test('two downloads into one cache folder at once make one request, and both get the data', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const cacheDir = tempDir(t);
  const load = () => loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false });
  const [a, b] = await Promise.all([load(), load()]);
  assert.equal(a.train.count, 10);
  assert.equal(b.train.count, 10);
  assert.equal(server.requests(), 1);
  assert.deepEqual(readdirSync(cacheDir).sort(), ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']);
});

test('a download another process is making is waited for and used, not repeated', async (t) => {
  const archive = await makeArchive(t);
  // The first request sends half the archive, then the rest a second later: time for the second loader to arrive.
  const server = await serve(t, (_n, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': archive.bytes.length });
    res.write(archive.bytes.subarray(0, archive.bytes.length >> 1));
    setTimeout(() => res.end(archive.bytes.subarray(archive.bytes.length >> 1)), 1000);
  });
  const cacheDir = tempDir(t);
  const options = { cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false };
  const script = `
    const { loadDataset } = require(${JSON.stringify(require.resolve('../../sidecar/data/index'))});
    loadDataset(${JSON.stringify(options)}).then((d) => process.stdout.write(String(d.train.count)), (e) => { process.stdout.write(e.message); process.exitCode = 1; });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.after(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(cacheDir, DOWNLOAD_LOCK)) && Date.now() < deadline) await delay(10);
  assert.ok(existsSync(join(cacheDir, DOWNLOAD_LOCK)), 'the other process took the lock');
  const notices: string[] = [];
  const here = await loadDataset({ ...options, notice: (l) => notices.push(l) });
  assert.equal(await exited, 0, out);
  assert.equal(out, '10');
  assert.equal(here.train.count, 10);
  assert.equal(server.requests(), 1);
  assert.deepEqual(notices, [`waiting for another process to download CIFAR-10 into ${cacheDir}`]);
  assert.deepEqual(readdirSync(cacheDir).sort(), ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']);
});

test('the lock and the partial file of a killed download are cleared by the next one', async (t) => {
  const archive = await makeArchive(t);
  const server = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const cacheDir = tempDir(t);
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout);
  writeFileSync(join(cacheDir, DOWNLOAD_LOCK), JSON.stringify({ pid: deadPid, host: hostname(), heartbeatAt: Date.now(), token: 'killed' }));
  writeFileSync(join(cacheDir, `cifar-10-binary.tar.gz.${deadPid}-0badf00d.partial`), archive.bytes.subarray(0, 100));
  const started = Date.now();
  const d = await loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false });
  assert.equal(d.train.count, 10);
  assert.ok(Date.now() - started < 5000, 'no wait for a lock whose process is gone');
  assert.deepEqual(readdirSync(cacheDir).sort(), ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']);
});

test('a body larger than the cap is refused by its Content-Length, or cut off as it arrives, without a retry', async (t) => {
  const archive = await makeArchive(t);
  const cap = archive.bytes.length - 1;
  const withLength = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const chunked = await serve(t, (_n, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' }); // no Content-Length: chunked
    res.end(archive.bytes);
  });
  for (const server of [withLength, chunked]) {
    const cacheDir = tempDir(t);
    await rejectsWith(loadDataset({ cacheDir, downloadUrl: server.url, expectedMd5: archive.md5, fallbackToSample: false, maxDownloadBytes: cap }),
      'download_failed', `the server sends more than ${cap.toLocaleString('en-US')} bytes`);
    assert.equal(server.requests(), 1);
    assertNothingKept(cacheDir);
  }
});

test('an https download redirected to http is refused; one redirected within https is followed', async (t) => {
  const archive = await makeArchive(t);
  const dir = tempDir(t);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const plain = await serve(t, (_n, _req, res) => sendArchive(res, archive));
  const secure = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    if (req.url === '/to-http') res.writeHead(302, { location: plain.url }).end();
    else if (req.url === '/to-https') res.writeHead(302, { location: '/archive' }).end();
    else sendArchive(res, archive);
  });
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { secure.closeAllConnections(); secure.close(() => resolve()); }));
  const base = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  // A process that trusts our certificate, as a machine trusts the real server's.
  const script = `
    const { loadDataset } = require(${JSON.stringify(require.resolve('../../sidecar/data/index'))});
    const load = (path, cacheDir) => loadDataset({ cacheDir, downloadUrl: ${JSON.stringify(base)} + path, expectedMd5: ${JSON.stringify(archive.md5)}, fallbackToSample: false })
      .then((d) => ({ count: d.train.count }), (e) => ({ code: e.code, message: e.message }));
    Promise.all([load('/to-http', ${JSON.stringify(join(dir, 'a'))}), load('/to-https', ${JSON.stringify(join(dir, 'b'))})])
      .then((r) => process.stdout.write(JSON.stringify(r)));`;
  const r = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
  });
  const [toHttp, toHttps] = JSON.parse(r);
  assert.equal(toHttp.code, 'download_failed');
  assert.match(toHttp.message, new RegExp(`refused a redirect from ${base}/to-http to ${plain.url.replace(/\./g, '\\.')}: an https download is never continued over http`));
  assert.equal(plain.requests(), 0);
  assert.deepEqual(toHttps, { count: 10 });
});
