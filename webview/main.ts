// The dashboard's entry point, bundled to dist/webview/dashboard.js: inside a VS Code webview it talks to
// the extension with postMessage, in a plain browser to the sidecar over a WebSocket.
import './zodJitless'; // first: before the protocol's schemas are built
import { Dashboard } from './dashboard';
import { createTransport } from './transport';

const root = document.getElementById('app');
if (root) {
  performance.mark('adam:modules-loaded'); // these marks: bench/page.mjs's timeline of opening a run
  const dashboard = new Dashboard(root, createTransport());
  performance.mark('adam:constructed');
  (window as unknown as { adamDashboard?: Dashboard }).adamDashboard = dashboard;
  // The page's own frame times, for `npm run bench:watched`: the JavaScript, and the whole frame to its paint.
  (window as unknown as { adamFrames?: unknown }).adamFrames = dashboard.frames;
  (window as unknown as { adamFrameCosts?: unknown }).adamFrameCosts = dashboard.frameCosts;
}
