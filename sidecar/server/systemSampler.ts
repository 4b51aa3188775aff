// The sidecar's own CPU and memory, sent to every client every few seconds (the dashboard's "sidecar" line), with
// the datasets it holds and the runs sharing each.
import { datasetPool } from '../data/pool';
import type { ServerMessage } from '../protocol';

const SYSTEM_INTERVAL_MS = 2_000;

export function systemSampler(send: (msg: ServerMessage) => void): NodeJS.Timeout {
  let cpu = process.cpuUsage();
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const cpuPercent = ((used.user + used.system) / 1000 / Math.max(1, now - at)) * 100;
    at = now;
    const { loads, datasets } = datasetPool.stats();
    send({ type: 'system', cpuPercent, rssBytes: process.memoryUsage.rss(), datasets, datasetLoads: loads });
  }, SYSTEM_INTERVAL_MS);
  timer.unref();
  return timer;
}
