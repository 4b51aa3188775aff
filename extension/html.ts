// The dashboard panel's HTML, built in one function (VS Code's webview sample): a nonce-based
// Content-Security-Policy (`default-src 'none'`, scripts only with the nonce, styles and images only from
// the webview's own resource origin) and the bundle loaded through asWebviewUri.
import { randomBytes } from 'node:crypto';

export interface DashboardHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `webview.asWebviewUri(dist/webview/dashboard.js)`, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(dist/webview/dashboard.css)`, as a string. */
  styleUri: string;
  nonce?: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

export function dashboardHtml(o: DashboardHtmlOptions): string {
  const nonce = o.nonce ?? makeNonce();
  const csp = [`default-src 'none'`, `style-src ${o.cspSource}`, `img-src ${o.cspSource} data:`, `font-src ${o.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Train with Adam</title>
  <link rel="stylesheet" href="${attr(o.styleUri)}">
</head>
<body>
  <div id="app"></div>
  <script nonce="${attr(nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}

function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
