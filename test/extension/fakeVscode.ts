// A stand-in for the part of the `vscode` API the extension uses: the one edge we do not own. It records
// what the extension shows and lets a test answer its questions. Installed with `installFakeVscode()`
// before the extension is loaded; everything else (the sidecar, its runs, the files) is real.
import Module from 'node:module';
import { join } from 'node:path';

type Listener<T> = (e: T) => unknown;

export class FakeUri {
  constructor(readonly fsPath: string) {}
  static file(p: string): FakeUri {
    return new FakeUri(p);
  }
  static joinPath(base: FakeUri, ...parts: string[]): FakeUri {
    return new FakeUri(join(base.fsPath, ...parts));
  }
  toString(): string {
    return `https://webview.test${this.fsPath}`;
  }
}

export interface Shown {
  kind: 'error' | 'info' | 'warning';
  text: string;
  items: string[];
}

export function createFakeVscode(settings: Record<string, unknown>) {
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const shown: Shown[] = [];
  const posted: unknown[] = [];
  const statusBar = { text: '', tooltip: '', visible: false, command: '', name: '' };
  const answers: Array<(s: Shown) => string | undefined> = [];
  let webviewListener: Listener<unknown> | undefined;
  const panels: Array<{ html: string; disposed: boolean }> = [];

  const show = (kind: Shown['kind']) => (text: string, ...rest: unknown[]) => {
    const items = rest.filter((r): r is string => typeof r === 'string');
    const s = { kind, text, items };
    shown.push(s);
    const answer = answers.find((a) => a(s) !== undefined);
    return Promise.resolve(answer ? answer(s) : undefined);
  };

  const vscode = {
    Uri: FakeUri,
    ViewColumn: { One: 1 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { Notification: 15 },
    commands: {
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        commands.set(id, run);
        return { dispose: () => commands.delete(id) };
      },
      executeCommand: async (id: string, ...args: unknown[]) => commands.get(id)?.(...args),
    },
    workspace: {
      isTrusted: true,
      workspaceFolders: undefined,
      getConfiguration: () => ({
        get: (name: string) => settings[name],
        inspect: (name: string) => ({ globalValue: settings[name] }),
      }),
    },
    window: {
      activeTextEditor: undefined,
      showErrorMessage: show('error'),
      showInformationMessage: show('info'),
      showWarningMessage: (text: string, ...rest: unknown[]) => show('warning')(text, ...rest),
      showQuickPick: async () => undefined,
      showOpenDialog: async () => undefined,
      showSaveDialog: async () => undefined,
      withProgress: (_o: unknown, task: (p: unknown, t: unknown) => Promise<void>) =>
        task({ report: () => undefined }, { onCancellationRequested: () => ({ dispose: () => undefined }) }),
      createOutputChannel: () => ({ appendLine: () => undefined, append: () => undefined, show: () => undefined, dispose: () => undefined }),
      createStatusBarItem: () => ({
        ...statusBar,
        set text(t: string) {
          statusBar.text = t;
        },
        get text() {
          return statusBar.text;
        },
        show: () => (statusBar.visible = true),
        hide: () => (statusBar.visible = false),
        dispose: () => undefined,
      }),
      registerWebviewPanelSerializer: () => ({ dispose: () => undefined }),
      createWebviewPanel: () => {
        const record = { html: '', disposed: false };
        panels.push(record);
        const disposeListeners: Array<() => void> = [];
        return {
          visible: true,
          reveal: () => undefined,
          iconPath: undefined,
          onDidDispose: (l: () => void) => (disposeListeners.push(l), { dispose: () => undefined }),
          onDidChangeViewState: () => ({ dispose: () => undefined }),
          dispose: () => {
            record.disposed = true;
          },
          webview: {
            cspSource: 'https://webview.test',
            options: {},
            set html(h: string) {
              record.html = h;
            },
            get html() {
              return record.html;
            },
            asWebviewUri: (u: FakeUri) => u,
            postMessage: async (m: unknown) => (posted.push(m), true),
            onDidReceiveMessage: (l: Listener<unknown>) => ((webviewListener = l), { dispose: () => undefined }),
          },
        };
      },
    },
  };

  return {
    vscode,
    commands,
    shown,
    posted,
    statusBar,
    panels,
    /** Answers the next matching question (notification with buttons) with `item`. */
    answer: (match: RegExp, item: string) => answers.push((s) => (match.test(s.text) ? item : undefined)),
    /** The webview posts a message to the extension (the dashboard saying `ready`, a button, ...). */
    fromWebview: (m: unknown) => webviewListener?.(m),
  };
}

/** Makes `require('vscode')` return the fake. */
export function installFakeVscode(fake: object): void {
  const M = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return fake;
    return load.call(this, request, ...rest);
  };
}

export function fakeContext(extensionPath: string, storagePath: string) {
  return {
    subscriptions: [] as Array<{ dispose(): unknown }>,
    extensionUri: new FakeUri(extensionPath),
    globalStorageUri: new FakeUri(storagePath),
    asAbsolutePath: (p: string) => join(extensionPath, p),
  };
}
