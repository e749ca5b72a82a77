/**
 * Cross-field rules of the file: unique names, listener → farm references, pool limits, cert/key
 * pairs, SNI names, bind clashes. They run on a possibly partial tree (even when other fields
 * failed, so one pass reports every problem): they read it defensively and skip any comparison
 * whose operands are themselves invalid (those are already reported).
 */
import type { z } from 'zod';
import { formatKeyPath, type KeyPath } from './key-path.js';
import { NAME } from './schema-scalars.js';
import { checkFarmDiscovery } from './discover-schema.js';

type Ctx = z.RefinementCtx;
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nameOf = (v: unknown): string | undefined => {
  const n = rec(v)?.name;
  return typeof n === 'string' ? n : undefined;
};
const report = (ctx: Ctx, path: KeyPath, message: string) => ctx.addIssue({ code: 'custom', path, message });

function uniqueNames(items: unknown[], path: KeyPath, what: string, ctx: Ctx): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const n = nameOf(item);
    if (n === undefined) return;
    const seen = first.get(n);
    if (seen === undefined) first.set(n, i);
    else report(ctx, [...path, i, 'name'], `duplicate ${what} name "${n}" (already used by ${formatKeyPath([...path, seen])})`);
  });
}

type LimitKey = 'max-conn' | 'max-idle' | 'min-idle';
interface Limit { value: number; from: 'farm' | 'server'; key: LimitKey }

/**
 * Effective min-idle / max-idle / max-conn of a pool made of layers (server override first).
 * null: some layer holds an invalid value for that key (already reported).
 */
function effectiveLimit(key: LimitKey, layers: Array<[Limit['from'], Record<string, unknown> | undefined]>): Limit | null | undefined {
  for (const [from, pool] of layers) {
    const v = pool?.[key];
    if (v === undefined) continue;
    const min = key === 'max-conn' ? 1 : 0;
    return typeof v === 'number' && Number.isInteger(v) && v >= min ? { value: v, from, key } : null;
  }
  return undefined;
}

/**
 * Invariant: min-idle <= max-idle <= max-conn, where max-idle defaults to max-conn.
 * At server level only violations involving a server-set value are reported (the rest are the farm's).
 */
function checkPoolLimits(layers: Array<[Limit['from'], Record<string, unknown> | undefined]>, at: Limit['from'], path: KeyPath, ctx: Ctx): void {
  const maxConn = effectiveLimit('max-conn', layers);
  const minIdle = effectiveLimit('min-idle', layers) ?? { value: 0, from: 'farm', key: 'min-idle' };
  const explicitMaxIdle = effectiveLimit('max-idle', layers);
  if (maxConn === undefined) return; // farm layer always has max-conn after defaults; undefined means the farm pool failed
  const maxIdle = explicitMaxIdle === undefined ? maxConn : explicitMaxIdle;
  const pairs: Array<[Limit | null, Limit | null]> = [[minIdle, maxIdle]];
  if (explicitMaxIdle !== undefined) pairs.push([explicitMaxIdle, maxConn]);
  for (const [lo, hi] of pairs) {
    if (!lo || !hi || lo.value <= hi.value) continue;
    if (at === 'server' && lo.from !== 'server' && hi.from !== 'server') continue;
    const origin = (l: Limit) => (at === 'server' && l.from === 'farm' ? ', from the farm pool' : '');
    if (lo.from === at) report(ctx, [...path, lo.key], `must be <= ${hi.key} (${hi.value}${origin(hi)})`);
    else report(ctx, [...path, hi.key], `must be >= ${lo.key} (${lo.value}${origin(lo)})`);
  }
}

function checkFarm(farm: Record<string, unknown>, path: KeyPath, ctx: Ctx): void {
  checkFarmDiscovery(farm, path, ctx);
  const servers = list(farm.servers);
  uniqueNames(servers, [...path, 'servers'], 'server', ctx);
  const farmPool = rec(farm.pool);
  checkPoolLimits([['farm', farmPool]], 'farm', [...path, 'pool'], ctx);
  servers.forEach((server, i) => {
    const pool = rec(rec(server)?.pool);
    if (pool) checkPoolLimits([['server', pool], ['farm', farmPool]], 'server', [...path, 'servers', i, 'pool'], ctx);
  });
  const discoverPool = rec(rec(farm.discover)?.pool);
  if (discoverPool) checkPoolLimits([['server', discoverPool], ['farm', farmPool]], 'server', [...path, 'discover', 'pool'], ctx);
  const tls = rec(farm.tls);
  if (tls && (tls.cert == null) !== (tls.key == null)) {
    const missing = tls.cert == null ? 'cert' : 'key';
    report(ctx, [...path, 'tls', missing], `is required when tls.${missing === 'cert' ? 'key' : 'cert'} is set`);
  }
}

/** An explicit SNI name may appear once per listener. */
function checkSniNames(listener: Record<string, unknown>, path: KeyPath, ctx: Ctx): void {
  const seen = new Map<string, KeyPath>();
  list(rec(listener.tls)?.['sni-certs']).forEach((entry, i) => {
    list(rec(entry)?.names).forEach((n, j) => {
      if (typeof n !== 'string') return;
      const at: KeyPath = [...path, 'tls', 'sni-certs', i, 'names', j];
      const first = seen.get(n);
      if (first) report(ctx, at, `duplicate SNI name "${n}" (already used by ${formatKeyPath(first)})`);
      else seen.set(n, at);
    });
  });
}

const sameBind = (a: unknown, b: unknown): boolean => {
  const x = rec(a), y = rec(b);
  return !!x && !!y && typeof x.port === 'number' && x.port !== 0 && x.port === y.port && x.host === y.host;
};

/**
 * Issue 13 items 3-4: what the uws engine cannot honour is an error, never ignored (MEASURED on
 * @based/uws 6.0.1: no per-connection address or certificate hook before requests, no minimum
 * version option; its floor is TLS 1.2). And a subject header needs certificates to come from.
 */
function checkListenerAccess(listener: Record<string, unknown>, path: KeyPath, ctx: Ctx): void {
  const tls = rec(listener.tls);
  if (tls && tls['client-subject-header'] != null && tls['client-ca'] == null) {
    report(ctx, [...path, 'tls', 'client-subject-header'], 'needs tls.client-ca (no client certificate is asked for without it)');
  }
  if (listener.engine !== 'uws') return;
  const why = 'is not supported by engine uws (use engine: node, the default)';
  if (listener.allow != null) report(ctx, [...path, 'allow'], why);
  if (listener['max-conn'] != null) report(ctx, [...path, 'max-conn'], why);
  if (tls && tls['client-ca'] != null) report(ctx, [...path, 'tls', 'client-ca'], why);
  if (tls && tls['min-version'] === 'TLSv1.3') report(ctx, [...path, 'tls', 'min-version'], 'TLSv1.3 is not supported by engine uws (its floor is TLSv1.2; use engine: node)');
}

export function crossChecks(root: unknown, ctx: Ctx): void {
  const top = rec(root);
  if (!top) return;
  const listeners = list(top.listeners);
  const farms = list(top.farms);
  uniqueNames(listeners, ['listeners'], 'listener', ctx);
  uniqueNames(farms, ['farms'], 'farm', ctx);
  farms.forEach((farm, i) => { const f = rec(farm); if (f) checkFarm(f, ['farms', i], ctx); });
  listeners.forEach((l, i) => { const r = rec(l); if (r) checkSniNames(r, ['listeners', i], ctx); });
  listeners.forEach((l, i) => { const r = rec(l); if (r) checkListenerAccess(r, ['listeners', i], ctx); });

  // Without every farm's name, an unknown reference may just be a farm whose name is itself invalid.
  if (Array.isArray(top.farms) && farms.every((f) => nameOf(f) !== undefined)) {
    const known = farms.map(nameOf) as string[];
    listeners.forEach((l, i) => {
      const target = rec(l)?.farm;
      if (typeof target === 'string' && NAME.test(target) && !known.includes(target)) {
        report(ctx, ['listeners', i, 'farm'], `no farm named "${target}" (farms: ${known.join(', ') || 'none'})`);
      }
    });
  }

  const binds: Array<[KeyPath, unknown]> = listeners.map((l, i) => [['listeners', i, 'bind'], rec(l)?.bind]);
  const admin = rec(top.admin);
  if (admin) binds.push([['admin', 'bind'], admin.bind]);
  binds.forEach(([path, bind], i) => {
    const clash = binds.findIndex(([, other], j) => j < i && sameBind(bind, other));
    if (clash >= 0) report(ctx, path, `same address and port as ${formatKeyPath(binds[clash]![0])}`);
  });
}

/**
 * The uws engine's parser gaps that JavaScript cannot close (README "Front engines", issue 15):
 * the listener still runs (opt-in), but `check` and `run` say so.
 */
export const UWS_ENGINE_WARNING =
  'engine uws is opt-in and has known parser gaps (empty header name hides later headers, LF-only chunk framing accepted, ' +
  'chunk extensions/trailers/HTTP/1.0/absolute-form refused, pipelined requests dropped, non-ASCII header bytes re-encoded, ' +
  'request bodies buffered without bound, listener max-conn not enforced); see README "Front engines". engine: node (the default) has none of them';

/** Warnings about a valid configuration (never refuse it): one per listener on the uws engine. */
export function configWarnings(config: { listeners: ReadonlyArray<{ engine: string }> }): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  config.listeners.forEach((l, i) => {
    if (l.engine === 'uws') out.push({ path: formatKeyPath(['listeners', i, 'engine']), message: UWS_ENGINE_WARNING });
  });
  return out;
}
