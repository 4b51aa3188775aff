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

class FakeEventEmitter<T> {
  private listeners: Array<Listener<T>> = [];
  readonly event = (l: Listener<T>) => (this.listeners.push(l), { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) });
  fire(e: T): void {
    for (const l of this.listeners) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

class FakeTreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  command?: unknown;
  constructor(readonly label: string, readonly collapsibleState: number) {}
}

class FakeMarkdownString {
  isTrusted?: unknown;
  constructor(readonly value = '') {}
}

/** A tree view the extension created: its data provider, and whether it is on screen. */
export interface TreeViewRecord {
  treeDataProvider: { getChildren(e?: unknown): unknown; getTreeItem(e: unknown): FakeTreeItem; onDidChangeTreeData?: (l: () => void) => unknown };
  visible: boolean;
  setVisible(visible: boolean): void;
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
  /** writes: how many times the extension set the item's text or tooltip (each a round trip to the workbench in VS Code). */
  const statusBar = { text: '', tooltip: undefined as unknown, visible: false, command: '', name: '', writes: 0 };
  const answers: Array<(s: Shown) => string | undefined> = [];
  /** Scripted answers to input boxes and quick picks, in the order they are asked; none left: cancelled. */
  const inputs: Array<string | undefined> = [];
  const picks: Array<(labels: string[]) => string[] | undefined> = [];
  const asked: Array<{ kind: 'input' | 'pick'; title?: string; value?: string; labels?: string[]; picked?: string[] }> = [];
  let webviewListener: Listener<unknown> | undefined;
  /** Context keys as the extension set them (`setContext`), for the manifest's `when` clauses. */
  const context = new Map<string, unknown>();
  /** Tree views the extension created, by id, with their data providers. */
  const treeViews = new Map<string, TreeViewRecord>();
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
    EventEmitter: FakeEventEmitter,
    TreeItem: FakeTreeItem,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    ThemeIcon: class { constructor(readonly id: string) {} },
    MarkdownString: FakeMarkdownString,
    commands: {
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        commands.set(id, run);
        return { dispose: () => commands.delete(id) };
      },
      executeCommand: async (id: string, ...args: unknown[]) => {
        if (id === 'setContext') return void context.set(args[0] as string, args[1]);
        return commands.get(id)?.(...args);
      },
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
      showInputBox: async (o: { title?: string; value?: string; validateInput?: (v: string) => string | undefined } = {}) => {
        asked.push({ kind: 'input', title: o.title, value: o.value });
        const answer = inputs.shift();
        if (answer !== undefined && o.validateInput?.(answer)) throw new Error(`the input box refuses ${JSON.stringify(answer)}: ${o.validateInput(answer)}`);
        return answer;
      },
      showQuickPick: async (items: Array<{ label: string; picked?: boolean }>, o: { title?: string; canPickMany?: boolean } = {}) => {
        const labels = items.map((i) => i.label);
        asked.push({ kind: 'pick', title: o.title, labels, picked: items.filter((i) => i.picked).map((i) => i.label) });
        const chosen = picks.shift()?.(labels);
        if (!chosen) return undefined;
        const selected = items.filter((i) => chosen.includes(i.label));
        return o.canPickMany ? selected : selected[0];
      },
      showOpenDialog: async () => undefined,
      showSaveDialog: async () => undefined,
      withProgress: (_o: unknown, task: (p: unknown, t: unknown) => Promise<void>) =>
        task({ report: () => undefined }, { onCancellationRequested: () => ({ dispose: () => undefined }) }),
      createOutputChannel: () => ({ appendLine: () => undefined, append: () => undefined, show: () => undefined, dispose: () => undefined }),
      createStatusBarItem: () => ({
        ...statusBar,
        set text(t: string) {
          statusBar.writes++;
          statusBar.text = t;
        },
        get text() {
          return statusBar.text;
        },
        set tooltip(t: unknown) {
          statusBar.writes++;
          statusBar.tooltip = t;
        },
        get tooltip() {
          return statusBar.tooltip;
        },
        show: () => (statusBar.visible = true),
        hide: () => (statusBar.visible = false),
        dispose: () => undefined,
      }),
      registerWebviewPanelSerializer: () => ({ dispose: () => undefined }),
      createTreeView: (id: string, options: { treeDataProvider: never }) => {
        const listeners: Array<(e: { visible: boolean }) => void> = [];
        const view = {
          ...(options as object),
          visible: true,
          /** Shows or hides the view as the user would (collapsing it, switching the side bar to another container). */
          setVisible(visible: boolean) {
            view.visible = visible;
            for (const l of listeners) l({ visible });
          },
        } as TreeViewRecord;
        treeViews.set(id, view);
        return {
          get visible() {
            return view.visible;
          },
          onDidChangeVisibility: (l: (e: { visible: boolean }) => void) => (listeners.push(l), { dispose: () => undefined }),
          dispose: () => treeViews.delete(id),
        };
      },
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
    context,
    treeViews,
    /** Answers the next matching question (notification with buttons) with `item`. */
    answer: (match: RegExp, item: string) => answers.push((s) => (match.test(s.text) ? item : undefined)),
    asked,
    /** Answers the next input box with `value` (undefined: Escape). */
    input: (value: string | undefined) => inputs.push(value),
    /** Answers the next quick pick: `choose` gets the item labels and returns the labels picked. */
    pick: (choose: (labels: string[]) => string[] | undefined) => picks.push(choose),
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
