// `train --dashboard`: serve plus start (DESIGN.md). Filled in when the server lands.
import { UserError } from '../errors';
import type { Run } from '../trainer';

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

export async function startDashboard(_opts: { run: Run; runsDir: string; cacheDir: string; notice: (line: string) => void }): Promise<Dashboard> {
  throw new UserError('bad_usage', '--dashboard is not available in this build yet');
}
