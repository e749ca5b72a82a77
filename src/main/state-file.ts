/**
 * `state-file` (HAProxy's server-state-file; issue 12 item 8): admin weights and states survive
 * a restart. Written atomically (temp file + rename: a crash leaves the old file or the new one,
 * never half of one) whenever a server's admin state or runtime weight changes (checked every
 * second: the admin API and the balancer have no change events) and at stop; read once at
 * start, before anything listens. HAProxy's rule, as for a reload: a saved weight applies only
 * if the server's configured weight is the one it was saved with (a config change wins); admin
 * DRAIN/MAINT apply. Entries for farms or servers no longer in the config are ignored, with a
 * log line each.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Farm } from '../balancer/farm.js';
import type { Logger } from '../core/logger.js';

interface SavedServer { farm: string; server: string; config_weight: number; weight: number; admin: string }
interface SavedState { version: 1; servers: SavedServer[] }

/** What would be written now (stable order: config order). */
export function serverState(farms: Iterable<Farm>): SavedState {
  const servers: SavedServer[] = [];
  for (const farm of farms) {
    for (const s of farm.servers) {
      servers.push({ farm: farm.name, server: s.name, config_weight: s.config.weight, weight: s.weight, admin: s.snapshot().admin });
    }
  }
  return { version: 1, servers };
}

export function writeServerState(file: string, state: SavedState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Applies a saved state to the farms; a missing file is a first start (nothing to do). */
export function applyServerState(file: string, farms: ReadonlyMap<string, Farm>, log: Logger): void {
  let saved: SavedState;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    log.warn({ state_file: file, err: (err as Error).message }, 'state-file unreadable: starting with the configured weights and states');
    return;
  }
  if (saved?.version !== 1 || !Array.isArray(saved.servers)) {
    log.warn({ state_file: file }, 'state-file has an unknown format: ignored');
    return;
  }
  for (const e of saved.servers) {
    const server = farms.get(e.farm)?.servers.find((s) => s.name === e.server);
    if (!server) {
      log.info({ state_file: file, farm: e.farm, server: e.server }, 'state-file: server no longer in the configuration: entry ignored');
      continue;
    }
    if (e.config_weight === server.config.weight && Number.isInteger(e.weight) && e.weight >= 0 && e.weight <= 256) server.setWeight(e.weight, 'state-file');
    if (e.admin === 'drain' || e.admin === 'maint') server.setAdminState(e.admin, 'state-file');
  }
}
