// The dashboard panel, one class owning its whole life as in VS Code's webview sample: createOrShow,
// revive (the serializer restores it after a window reload), dispose emptying a _disposables list.
// The webview's content is destroyed while its tab is hidden; it says `ready` again when shown and the
// relay then sends it the whole state, so no retainContextWhenHidden.
import * as vscode from 'vscode';
import { dashboardHtml } from './html';
import type { Relay } from './relay';

export class DashboardPanel {
  static readonly viewType = 'adamTrainer.dashboard';
  static current: DashboardPanel | undefined;

  private readonly _disposables: vscode.Disposable[] = [];

  static createOrShow(extensionUri: vscode.Uri, relay: Relay): DashboardPanel {
    const column = vscode.window.activeTextEditor?.viewColumn;
    if (DashboardPanel.current) {
      DashboardPanel.current._panel.reveal(column);
      return DashboardPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(DashboardPanel.viewType, 'Train with Adam', column ?? vscode.ViewColumn.One, webviewOptions(extensionUri));
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, relay);
    return DashboardPanel.current;
  }

  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, relay: Relay): void {
    panel.webview.options = webviewOptions(extensionUri);
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, relay);
  }

  private constructor(
    private readonly _panel: vscode.WebviewPanel,
    private readonly _extensionUri: vscode.Uri,
    private readonly _relay: Relay,
  ) {
    this._panel.iconPath = vscode.Uri.joinPath(_extensionUri, 'dist', 'webview', 'icon.svg');
    this._panel.webview.html = this._html();
    this._panel.onDidDispose(() => this.dispose(), null, this._disposables);
    this._panel.webview.onDidReceiveMessage((msg: unknown) => this._relay.fromWebview(msg), null, this._disposables);
    setDashboardActive(true);
    this._panel.onDidChangeViewState(
      () => {
        // Hidden: the webview's page is gone; it will post `ready` when it is shown again.
        if (!this._panel.visible) this._relay.webviewGone();
        setDashboardActive(this._panel.active);
      },
      null,
      this._disposables,
    );
  }

  post(msg: unknown): void {
    void this._panel.webview.postMessage(msg);
  }

  dispose(): void {
    DashboardPanel.current = undefined;
    setDashboardActive(false);
    this._relay.webviewGone();
    this._panel.dispose();
    while (this._disposables.length) this._disposables.pop()?.dispose();
  }

  private _html(): string {
    const webview = this._panel.webview;
    const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(this._extensionUri, 'dist', 'webview', name)).toString();
    return dashboardHtml({ cspSource: webview.cspSource, scriptUri: asset('dashboard.js'), styleUri: asset('dashboard.css') });
  }
}

/** The `adamTrainer.dashboardActive` context key: the dashboard's editor/title buttons show while it is the active editor. */
function setDashboardActive(active: boolean): void {
  void vscode.commands.executeCommand('setContext', 'adamTrainer.dashboardActive', active);
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    // Only the dashboard bundle: nothing else of the extension or the workspace can be loaded.
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
  };
}
