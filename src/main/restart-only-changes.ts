import type { GatewayConfig, ListenerConfig } from '../config/config-types.js';

/**
 * The parts of a new config a reload cannot apply to a running process (listeners are bound
 * sockets with their engine; the admin listener likewise): one human-readable line per change,
 * each saying a restart is needed. Listener certificates (`tls`, file paths included) are not in
 * this list: SIGHUP re-reads them from the new config (Gateway.reloadCertificates).
 */
export function restartOnlyChanges(old: GatewayConfig, next: GatewayConfig): string[] {
  const out: string[] = [];
  const byName = new Map(old.listeners.map((l) => [l.name, l]));
  for (const l of next.listeners) {
    const o = byName.get(l.name);
    byName.delete(l.name);
    if (!o) {
      out.push(`listener ${l.name} is new: it starts only after a restart`);
      continue;
    }
    for (const key of ['bind', 'engine', 'farm', 'timeouts', 'forwardedFor'] as const satisfies ReadonlyArray<keyof ListenerConfig>) {
      if (JSON.stringify(o[key]) !== JSON.stringify(l[key])) out.push(`listener ${l.name}: ${key} changed: needs a restart (kept as it was)`);
    }
  }
  for (const name of byName.keys()) out.push(`listener ${name} was removed: it stops only after a restart`);
  if (JSON.stringify(old.admin) !== JSON.stringify(next.admin)) out.push('admin changed: needs a restart (kept as it was)');
  if (old.log.level !== next.log.level) out.push('log.level changed: needs a restart (kept as it was)');
  if (old.log.destination !== next.log.destination) out.push('log.destination changed: needs a restart (kept as it was)');
  return out;
}
