// Train with Adam: activate() registers the commands and the dashboard's serializer, and offers to resume
// runs a closed window left behind. Everything else lives in the controller (one per window), the sidecar
// supervisor and the commands.
import * as vscode from 'vscode';
import * as commands from './commands';
import { Controller } from './controller';
import { DashboardPanel } from './panel';

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const c = new Controller(context);
  controller = c;
  context.subscriptions.push(c);
  const register = (id: string, run: () => unknown) => context.subscriptions.push(vscode.commands.registerCommand(`adamTrainer.${id}`, run));
  register('train', () => commands.train(c));
  register('compare', () => commands.compare(c));
  register('compareOverSeeds', () => commands.compareOverSeeds(c));
  register('pause', () => commands.control(c, 'pause'));
  register('resume', () => commands.control(c, 'resume'));
  register('stop', () => commands.control(c, 'stop'));
  register('openDashboard', () => c.openDashboard());
  register('resumeFromCheckpoint', () => commands.resumeFromCheckpoint(c));
  register('exportCsv', () => commands.exportCsv(c));
  register('exportWeights', () => commands.exportWeights(c));
  register('exportPytorch', () => commands.exportPytorch(c));
  register('deleteRun', () => commands.deleteRun(c));
  register('clearDatasetCache', () => commands.clearDatasetCache(c));
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        DashboardPanel.revive(panel, context.extensionUri, c.relay);
        c.ensureSidecar().catch(() => undefined);
      },
    }),
  );
  void commands.offerToResumeInterrupted(c);
}

/** SIGTERM to the sidecar (it checkpoints its runs and exits), SIGKILL after 3 s. */
export async function deactivate(): Promise<void> {
  await controller?.stopSidecar();
  controller = undefined;
}
