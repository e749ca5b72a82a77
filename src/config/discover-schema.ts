/**
 * `farms[].discover` (issue 13 item 2; HAProxy `server-template` + `resolvers`, Caddy dynamic
 * upstreams): servers of a farm found through DNS, next to or instead of `servers`.
 *
 *   discover: { name: api.example.net, port: 443, type: A, every: 30s, max-servers: 16,
 *               resolvers: [10.0.0.53:53], timeout: 2s, weight: 1, pool: { … } }
 *
 * The farm-level cross-checks (a farm needs `servers` or `discover`; `host-header: sni` needs an
 * SNI) live here too and are called from cross-checks.ts.
 */
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import { formatKeyPath, type KeyPath } from './key-path.js';
import { isHostName } from './host-port.js';
import { serverPoolSchema } from './pool-schema.js';
import { duration, int, need, oneOf } from './schema-scalars.js';

/** `ip`, `ip:port`, `[v6]:port` → the form node:dns `Resolver.setServers` takes. */
export function parseResolverAddress(text: string): string | { error: string } {
  const t = text.trim();
  if (isIP(t)) return isIPv6(t) ? `[${t}]:53` : `${t}:53`;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(t);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !isIP(host) || (m[1] !== undefined && !isIPv6(host)) || !(port >= 1 && port <= 65535))
    return { error: `"${text}" is not a DNS server address (expected an IP address, ip:port or [v6]:port; no host names)` };
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

const resolverAddress = () =>
  z.string({ error: need('must be a DNS server address (ip or ip:port)') }).transform((text, ctx) => {
    const r = parseResolverAddress(text);
    if (typeof r === 'string') return r;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });

const dnsName = () =>
  z.string({ error: need('must be a DNS name') }).transform((text, ctx) => {
    const n = text.trim().replace(/\.$/, '').toLowerCase();
    if (isHostName(n)) return n;
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a DNS name` });
    return z.NEVER;
  });

export const discoverSchema = z.strictObject({
  name: dnsName(),
  /** Required for A / AAAA (cross-checked); SRV records carry their own port. */
  port: int(1, 65535).optional(),
  type: oneOf(['A', 'AAAA', 'SRV']).default('A'),
  every: duration().prefault('30s'),
  'max-servers': int(1, 256).default(16),
  resolvers: z.array(resolverAddress(), { error: need('must be a list of DNS server addresses') }).min(1, { error: 'must list at least one DNS server (or leave resolvers out for resolv.conf)' }).nullable().default(null),
  timeout: duration().prefault('2s'),
  weight: int(0, 256).default(1),
  pool: serverPoolSchema.optional(),
});

export type FileDiscover = z.output<typeof discoverSchema>;

type Ctx = z.RefinementCtx;
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * Cross-field rules of one farm for the keys of issue 13 (run on a possibly partial tree by
 * cross-checks.ts, so every problem is reported in one pass).
 */
export function checkFarmDiscovery(farm: Record<string, unknown>, path: KeyPath, ctx: Ctx): void {
  const report = (at: KeyPath, message: string) => ctx.addIssue({ code: 'custom', path: at, message });
  const discover = rec(farm.discover);
  const servers = farm.servers;
  if ((servers === undefined || (Array.isArray(servers) && servers.length === 0)) && !discover)
    report([...path, 'servers'], 'must list at least one server (or add discover: to find them through DNS)');
  if (discover) {
    const type = discover.type ?? 'A';
    if (type !== 'SRV' && discover.port === undefined) report([...path, 'discover', 'port'], `is required for type ${String(type)} (SRV records carry their own port)`);
    if (type === 'SRV' && typeof discover.name === 'string' && !/^_[^.]+\._(tcp|udp)\./i.test(discover.name))
      report([...path, 'discover', 'name'], `"${discover.name}" is not an SRV name (expected _service._tcp.${discover.name})`);
  }
  // Parsed values ({kind}) where their own schema succeeded, raw ones elsewhere.
  const kind = (v: unknown): unknown => rec(v)?.kind ?? v;
  if (kind(farm['host-header']) === 'sni' && kind(rec(farm.tls)?.sni) === 'none')
    report([...path, 'host-header'], `sni copies the connection's SNI into Host, but ${formatKeyPath([...path, 'tls', 'sni'])} is none (use keep or a host name)`);
}
