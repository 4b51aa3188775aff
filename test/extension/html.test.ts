import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardHtml } from '../../extension/html';

const html = dashboardHtml({ cspSource: 'https://file+.vscode-resource.vscode-cdn.net', scriptUri: 'https://x/dist/webview/dashboard.js', styleUri: 'https://x/dist/webview/dashboard.css', nonce: 'abc123' });
const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';

test('the panel\'s CSP denies by default and runs only scripts with its nonce', () => {
  assert.match(csp, /^default-src 'none';/);
  assert.match(csp, /script-src 'nonce-abc123'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
});

test('styles and images come only from the webview\'s own resource origin', () => {
  assert.match(csp, /style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net;/);
  assert.match(csp, /img-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net data:/);
});

test('the one script carries the nonce and loads the bundle through its webview URI', () => {
  assert.deepEqual([...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1].trim()), ['nonce="abc123" src="https://x/dist/webview/dashboard.js"']);
});

test('each panel gets a fresh nonce', () => {
  const nonce = (h: string) => /nonce="([^"]+)"/.exec(h)?.[1];
  const opts = { cspSource: 'c', scriptUri: 's', styleUri: 't' };
  assert.notEqual(nonce(dashboardHtml(opts)), nonce(dashboardHtml(opts)));
});
