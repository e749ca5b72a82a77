/**
 * `GET /ready` (issue 12 item 5): what keepalived, a container orchestrator or a load balancer
 * in front should probe. Ready = every client listener accepts and every farm has at least one
 * UP server (backups count: they serve). `/health` stays liveness: a gateway whose farms are all
 * DOWN is alive (restarting it helps nothing) but not ready (send the office to the HA peer).
 */
import type { AdminTarget } from './admin-routes.js';

export interface Readiness {
  ready: boolean;
  /** Why not, one line per cause (empty when ready). */
  reasons: string[];
  farms: Array<{ name: string; up: number; servers: number }>;
}

export function readiness(target: AdminTarget): Readiness {
  const reasons: string[] = [];
  if (target.stopping) reasons.push('the gateway is stopping');
  const expected = target.config?.listeners.length;
  const open = target.listeners?.length;
  if (expected !== undefined && open !== undefined && open < expected) reasons.push(`listeners not accepting yet (${open} of ${expected} open)`);
  const farms = [...target.farms.values()].map((f) => ({ name: f.name, up: f.servers.filter((s) => s.snapshot().state === 'UP').length, servers: f.servers.length }));
  for (const f of farms) if (f.up === 0) reasons.push(`farm ${f.name}: no server UP (0 of ${f.servers})`);
  return { ready: reasons.length === 0, reasons, farms };
}
