// Train with Adam: activate() registers the commands and the dashboard's serializer, and offers to resume
// runs a closed window left behind. Everything else lives in the controller (one per window), the sidecar
// supervisor and the commands.
import * as vscode from 'vscode';
import * as commands from './commands';
import { classifyImage } from './classifyImage';
import { Controller } from './controller';
import { DashboardPanel } from './panel';
import * as runCommands from './runCommands';

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const c = new Controller(context);
  controller = c;
  context.subscriptions.push(c);
  const register = (id: string, run: (arg?: unknown) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(`adamTrainer.${id}`, run));
  register('train', () => commands.train(c));
  register('compare', () => commands.compare(c));
  register('compareOverSeeds', () => commands.compareOverSeeds(c));
  register('pause', (arg) => commands.control(c, 'pause', arg));
  register('resume', (arg) => commands.control(c, 'resume', arg));
  register('stop', (arg) => commands.control(c, 'stop', arg));
  register('openDashboard', () => c.openDashboard());
  register('resumeFromCheckpoint', (arg) => commands.resumeFromCheckpoint(c, arg));
  register('exportCsv', (arg) => commands.exportCsv(c, arg));
  register('exportWeights', (arg) => commands.exportWeights(c, arg));
  register('exportPytorch', (arg) => commands.exportPytorch(c, arg));
  register('deleteRun', (arg) => commands.deleteRun(c, arg));
  register('clearDatasetCache', () => commands.clearDatasetCache(c));
  register('forkRun', (arg) => runCommands.forkRun(c, arg));
  register('compareWith', (arg) => runCommands.compareWith(c, arg));
  register('revealRunFolder', (arg) => runCommands.revealRunFolder(c, arg));
  register('refreshRuns', () => c.runsView.refresh());
  register('classifyImage', (arg) => classifyImage(c, arg));
  // The Runs view reads the runs folder when it is first shown; nothing is spawned until a command needs the sidecar.
  const runsTree = vscode.window.createTreeView('adamTrainer.runs', { treeDataProvider: c.runsView });
  c.runsView.setVisible(runsTree.visible);
  context.subscriptions.push(runsTree, runsTree.onDidChangeVisibility((e) => c.runsView.setVisible(e.visible)));
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        DashboardPanel.revive(panel, context.extensionUri, c.relay);
        c.ensureSidecar().catch(() => undefined);
      },
    }),
  );
  void commands.offerToResumeInterrupted(c);
  // Activation must stay cheap (the end-to-end test reads this line): nothing is spawned until a command needs it.
  c.output.appendLine(`activated in ${(performance.now() - started).toFixed(1)} ms`);
}

/** SIGTERM to the sidecar (it checkpoints its runs and exits), SIGKILL after 3 s. */
export async function deactivate(): Promise<void> {
  await controller?.stopSidecar();
  controller = undefined;
}
