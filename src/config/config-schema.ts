/**
 * The configuration file's schema: kebab-case keys as written in YAML, every default applied,
 * unknown keys rejected. Validation runs entirely on the kebab-case shape, so every issue path is
 * a path in the file; only a fully valid document is mapped to the camelCase `GatewayConfig`.
 *
 * Cross-field rules (unique names, listener → farm references, pool limits, cert/key pairs, bind
 * clashes) run even when other fields failed, so one pass reports every problem. They read the
 * partially parsed tree defensively and skip any comparison whose operands are themselves invalid
 * (those are already reported).
 */
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import type {
  FarmConfig, FarmTlsConfig, GatewayConfig, HealthConfig, HostPort, ListenerConfig, PoolConfig,
} from './config-types.js';
import { parseDuration, parseSize, type UnitResult } from './units.js';

/** A key path in the file: map keys as written, list indexes as numbers. */
export type KeyPath = Array<string | number>;
export interface SchemaIssue { path: KeyPath; message: string }

/** `farms[0].pool.max-conn`; the empty path is `(top level)`. */
export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

// ---------------------------------------------------------------------------------------------
// Scalars

type IssueLike = { input?: unknown; code?: string };
/** Schema-level message that says "is required" for a missing key and otherwise shows the wrong value. */
const need = (message: string, showValue = (_input: unknown) => true) => (iss: IssueLike) => {
  if (iss.input === undefined) return 'is required';
  return showValue(iss.input) ? `${message}, got ${describe(iss.input)}` : message;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const name = () =>
  z.string({ error: need('must be a string') })
    .regex(NAME, { error: "must start with a letter or digit and contain only letters, digits, '.', '_' or '-'" });

const int = (min: number, max?: number) => {
  const message = max === undefined ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`;
  return z.custom<number>(
    (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && (max === undefined || v <= max),
    // abort:false keeps the issue continuable so the cross-field rules still run (z.custom aborts by default).
    { error: need(message, (input) => typeof input !== 'number'), abort: false },
  );
};

const bool = () => z.boolean({ error: need('must be true or false') });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: need(`must be one of: ${values.join(', ')}`) });
const filePath = () => z.string({ error: need('must be a file path') }).min(1, { error: 'must not be empty' });

function unitValue(parse: (v: string | number) => UnitResult, what: string, min: number) {
  return z.union([z.string(), z.number()], { error: need(`must be a ${what}`) }).transform((input, ctx) => {
    const r = parse(input);
    if (!r.ok) { ctx.addIssue({ code: 'custom', message: r.message }); return z.NEVER; }
    if (r.value < min) { ctx.addIssue({ code: 'custom', message: `must be at least ${min === 1 ? '1ms' : `${min}`}` }); return z.NEVER; }
    return r.value;
  });
}
/** Milliseconds; `min` 1 for timeouts and intervals, 0 where 0 means "off" or "unlimited". */
const duration = (min: 0 | 1 = 1) => unitValue(parseDuration, 'duration like 500ms, 10s or 1m30s', min);
const size = () => unitValue(parseSize, 'size like 64KiB', 0);

// ---------------------------------------------------------------------------------------------
// Addresses and names

const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
export function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label)) && isIP(host) === 0;
}

/** `host:port`, `[v6]:port`; port 0 (any free port) only where `allowPortZero`. */
export function parseHostPort(text: string, allowPortZero: boolean): { ok: true; value: HostPort } | { ok: false; message: string } {
  const example = allowPortZero ? '0.0.0.0:8443 or [::1]:8443' : '10.0.0.1:443, api.example.net:443 or [2001:db8::1]:443';
  const bad = (why: string) => ({ ok: false as const, message: `${why} (expected host:port, e.g. ${example})` });
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (v6) {
    [, host, port] = v6 as unknown as [string, string, string];
    if (!isIPv6(host)) return bad(`"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return bad(`"${text}" has no port`);
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (host.includes(':')) return bad(`IPv6 addresses must be in brackets, e.g. [${host}]:${port}`);
    if (host === '') return bad(`"${text}" has no host`);
    if (isIP(host) === 0 && !isHostName(host)) return bad(`"${host}" is not a valid host name or IPv4 address`);
  }
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= (allowPortZero ? 0 : 1) && n <= 65535)) return bad(`"${port}" is not a valid port (${allowPortZero ? 0 : 1}-65535)`);
  return { ok: true, value: { host, port: n } };
}

const hostPort = (allowPortZero: boolean) =>
  z.string({ error: need('must be host:port') }).transform((text, ctx) => {
    const r = parseHostPort(text.trim(), allowPortZero);
    if (!r.ok) { ctx.addIssue({ code: 'custom', message: r.message }); return z.NEVER; }
    return r.value;
  });

/** Absent `sni` is `{kind:'address'}`: each server's address host name, or none for an IP address. */
const sni = () =>
  z.string({ error: need('must be a host name, host or none') }).transform((text, ctx): FarmTlsConfig['sni'] => {
    if (text === 'host') return { kind: 'host' };
    if (text === 'none') return { kind: 'none' };
    if (isHostName(text)) return { kind: 'fixed', name: text };
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a host name (SNI cannot be an IP address); use a name, host or none` });
    return z.NEVER;
  });

/** A name an SNI certificate serves: a host name, or `*.` + host name (one label). Lowercased. */
const sniName = () =>
  z.string({ error: need('must be a host name') }).transform((text, ctx) => {
    const name = text.toLowerCase();
    if (isHostName(name.startsWith('*.') ? name.slice(2) : name)) return name;
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a host name or *.host name` });
    return z.NEVER;
  });

const sniCertSchema = z.strictObject({
  cert: filePath(),
  key: filePath(),
  /** Absent: the certificate's DNS subjectAltNames (read at start, src/tls/served-cert.ts). */
  names: z.array(sniName(), { error: need('must be a list of host names') }).min(1, { error: 'must list at least one name (or leave names out)' }).optional(),
});

const RETRY_ON_KEYWORDS = ['conn-failure', 'empty-response', 'junk-response', 'response-timeout'] as const;
/** HAProxy's retry-on status codes. */
const RETRY_ON_STATUSES = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504];
const retryOnItem = () =>
  z.union([z.string(), z.number()], { error: need('must be a retry-on keyword or status code') }).transform((item, ctx) => {
    const text = String(item);
    if ((RETRY_ON_KEYWORDS as readonly string[]).includes(text) || RETRY_ON_STATUSES.includes(Number(text))) return text;
    ctx.addIssue({ code: 'custom', message: `must be one of: ${RETRY_ON_KEYWORDS.join(', ')}, ${RETRY_ON_STATUSES.join(', ')}; got ${describe(item)}` });
    return z.NEVER;
  });

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// ---------------------------------------------------------------------------------------------
// Sections

const listenerSchema = z.strictObject({
  name: name(),
  bind: hostPort(true),
  engine: oneOf(['uws', 'node']).default('uws'),
  tls: z.strictObject({
    cert: filePath(),
    key: filePath(),
    'sni-certs': z.array(sniCertSchema, { error: need('must be a list of { cert, key, names }') }).default([]),
  }),
  farm: name(),
  timeouts: z.strictObject({
    client: duration().prefault('30s'),
    'http-request': duration().prefault('10s'),
    'http-keep-alive': duration().prefault('10s'),
  }).prefault({}),
});

const poolFields = {
  'max-conn': int(1),
  'max-idle': int(0),
  'min-idle': int(0),
  'idle-timeout': duration(1),
  'proven-window': duration(0),
  'max-reuse': int(0),
  'max-age': duration(0),
  'purge-interval': duration(1),
  burst: z.enum(['adaptive', 'open'], { error: 'must be adaptive or open' }),
};
/** `max-idle` stays optional here: it defaults to the effective `max-conn` after the server override. */
const farmPoolSchema = z.strictObject({
  'max-conn': poolFields['max-conn'].default(12),
  'max-idle': poolFields['max-idle'].optional(),
  'min-idle': poolFields['min-idle'].default(0),
  'idle-timeout': poolFields['idle-timeout'].prefault('290s'),
  'proven-window': poolFields['proven-window'].prefault('2s'),
  'max-reuse': poolFields['max-reuse'].default(0),
  'max-age': poolFields['max-age'].prefault(0),
  'purge-interval': poolFields['purge-interval'].prefault('5s'),
  burst: poolFields.burst.default('open'),
});
const serverPoolSchema = z.strictObject({
  'max-conn': poolFields['max-conn'].optional(),
  'max-idle': poolFields['max-idle'].optional(),
  'min-idle': poolFields['min-idle'].optional(),
  'idle-timeout': poolFields['idle-timeout'].optional(),
  'proven-window': poolFields['proven-window'].optional(),
  'max-reuse': poolFields['max-reuse'].optional(),
  'max-age': poolFields['max-age'].optional(),
  'purge-interval': poolFields['purge-interval'].optional(),
  burst: poolFields.burst.optional(),
});

const healthSchema = z.strictObject({
  path: z.string({ error: need('must be a string') }).startsWith('/', { error: 'must start with /' }).default('/health'),
  method: z.string({ error: need('must be a string') }).regex(HTTP_TOKEN, { error: 'must be an HTTP method token' }).default('GET'),
  'expect-status': int(100, 599).default(200),
  inter: duration().prefault('2s'),
  fastinter: duration().prefault('500ms'),
  downinter: duration().prefault('5s'),
  rise: int(1).default(2),
  fall: int(1).default(3),
  'disable-on-404': bool().default(false),
  timeout: duration().optional(),
  observe: oneOf(['none', 'layer4', 'layer7']).default('none'),
  'error-limit': int(1).default(10),
});

const serverSchema = z.strictObject({
  name: name(),
  address: hostPort(false),
  weight: int(0, 256).default(1),
  backup: bool().default(false),
  pool: serverPoolSchema.optional(),
});

const farmSchema = z.strictObject({
  name: name(),
  balance: oneOf(['roundrobin', 'leastconn', 'first']).default('leastconn'),
  'http-reuse': oneOf(['never', 'safe', 'aggressive', 'always']).default('always'),
  private: bool().default(false),
  retries: int(0).default(3),
  redispatch: bool().default(true),
  'retry-on': z.array(retryOnItem(), { error: need('must be a list') }).prefault(['conn-failure', 'empty-response']),
  'replay-buffer': size().prefault('64KiB'),
  timeouts: z.strictObject({
    connect: duration().prefault('5s'),
    server: duration().prefault('60s'),
    queue: duration().prefault('10s'),
  }).prefault({}),
  tls: z.strictObject({
    ca: filePath().nullable().default(null),
    sni: sni().optional(),
    verify: bool().default(true),
    cert: filePath().nullable().default(null),
    key: filePath().nullable().default(null),
  }).prefault({}),
  pool: farmPoolSchema.prefault({}),
  /** Present (even empty or null) enables health checks. */
  health: healthSchema.nullable().optional(),
  servers: z.array(serverSchema, { error: need('must be a list of servers') }).min(1, { error: 'must list at least one server' }),
});

const adminSchema = z.strictObject({
  bind: hostPort(true).prefault('127.0.0.1:9900'),
  'token-file': filePath().nullable().default(null),
});

const logSchema = z.strictObject({
  level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  access: bool().default(true),
});

const fileSchema = z.strictObject({
  listeners: z.array(listenerSchema, { error: need('must be a list of listeners') }).min(1, { error: 'must list at least one listener' }),
  /** Present (even empty or null) enables the admin endpoint. */
  admin: adminSchema.nullable().optional(),
  log: logSchema.prefault({}),
  'shutdown-grace': duration().prefault('30s'),
  farms: z.array(farmSchema, { error: need('must be a list of farms') }).min(1, { error: 'must list at least one farm' }),
}, { error: (iss) => (iss.code === 'invalid_type' ? 'the configuration must be a mapping with listeners and farms' : undefined) });

type FileConfig = z.output<typeof fileSchema>;
type FileFarm = FileConfig['farms'][number];
type FilePool = FileFarm['pool'];
type FileServerPool = NonNullable<FileFarm['servers'][number]['pool']>;

// ---------------------------------------------------------------------------------------------
// Cross-field rules (run on a possibly partial tree)

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
  const servers = list(farm.servers);
  uniqueNames(servers, [...path, 'servers'], 'server', ctx);
  const farmPool = rec(farm.pool);
  checkPoolLimits([['farm', farmPool]], 'farm', [...path, 'pool'], ctx);
  servers.forEach((server, i) => {
    const pool = rec(rec(server)?.pool);
    if (pool) checkPoolLimits([['server', pool], ['farm', farmPool]], 'server', [...path, 'servers', i, 'pool'], ctx);
  });
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

function crossChecks(root: unknown, ctx: Ctx): void {
  const top = rec(root);
  if (!top) return;
  const listeners = list(top.listeners);
  const farms = list(top.farms);
  uniqueNames(listeners, ['listeners'], 'listener', ctx);
  uniqueNames(farms, ['farms'], 'farm', ctx);
  farms.forEach((farm, i) => { const f = rec(farm); if (f) checkFarm(f, ['farms', i], ctx); });
  listeners.forEach((l, i) => { const r = rec(l); if (r) checkSniNames(r, ['listeners', i], ctx); });

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

// ---------------------------------------------------------------------------------------------
// Mapping to the resolved types (only for a fully valid document)

/** Each key from the server override when set there, else from the farm pool. */
function mergePool(farm: FilePool, server: FileServerPool = {}): PoolConfig {
  const maxConn = server['max-conn'] ?? farm['max-conn'];
  return {
    maxConn,
    maxIdle: server['max-idle'] ?? farm['max-idle'] ?? maxConn,
    minIdle: server['min-idle'] ?? farm['min-idle'],
    idleTimeout: server['idle-timeout'] ?? farm['idle-timeout'],
    provenWindow: server['proven-window'] ?? farm['proven-window'],
    maxReuse: server['max-reuse'] ?? farm['max-reuse'],
    maxAge: server['max-age'] ?? farm['max-age'],
    purgeInterval: server['purge-interval'] ?? farm['purge-interval'],
    burst: server.burst ?? farm.burst,
  };
}

const HEALTH_DEFAULTS = healthSchema.parse({});
function toHealth(h: FileFarm['health']): HealthConfig {
  const v = h ?? HEALTH_DEFAULTS;
  return {
    enabled: h !== undefined,
    path: v.path, method: v.method, expectStatus: v['expect-status'],
    inter: v.inter, fastinter: v.fastinter, downinter: v.downinter,
    rise: v.rise, fall: v.fall, disableOn404: v['disable-on-404'],
    timeout: v.timeout ?? v.inter, observe: v.observe, errorLimit: v['error-limit'],
  };
}

function toFarm(f: FileFarm): FarmConfig {
  return {
    name: f.name,
    balance: f.balance,
    httpReuse: f['http-reuse'],
    private: f.private,
    retries: f.retries,
    redispatch: f.redispatch,
    retryOn: f['retry-on'],
    replayBuffer: f['replay-buffer'],
    timeouts: { ...f.timeouts },
    tls: { ca: f.tls.ca, sni: f.tls.sni ?? { kind: 'address' }, verify: f.tls.verify, cert: f.tls.cert, key: f.tls.key },
    pool: mergePool(f.pool),
    health: toHealth(f.health),
    servers: f.servers.map((s) => ({
      name: s.name, address: s.address, weight: s.weight, backup: s.backup, pool: mergePool(f.pool, s.pool),
    })),
  };
}

function toGatewayConfig(c: FileConfig): GatewayConfig {
  const listeners: ListenerConfig[] = c.listeners.map((l) => ({
    name: l.name,
    bind: l.bind,
    engine: l.engine,
    tls: {
      cert: l.tls.cert,
      key: l.tls.key,
      sniCerts: l.tls['sni-certs'].map((c) => ({ cert: c.cert, key: c.key, names: c.names ?? null })),
    },
    farm: l.farm,
    timeouts: { client: l.timeouts.client, httpRequest: l.timeouts['http-request'], httpKeepAlive: l.timeouts['http-keep-alive'] },
  }));
  const admin = c.admin === undefined ? null : (() => {
    const a = c.admin ?? adminSchema.parse({});
    return { bind: a.bind, tokenFile: a['token-file'] };
  })();
  return { listeners, admin, log: { level: c.log.level, access: c.log.access }, farms: c.farms.map(toFarm), shutdownGrace: c['shutdown-grace'] };
}

export const configSchema = fileSchema.superRefine(crossChecks, { when: () => true }).transform(toGatewayConfig);

// ---------------------------------------------------------------------------------------------
// Issues

const EXPECTED: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false',
};
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return String(v);
}

function errorMap(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return 'is required';
    return `must be ${EXPECTED[iss.expected] ?? iss.expected}, got ${describe(iss.input)}`;
  }
  if (iss.code === 'invalid_union' && iss.input === undefined) return 'is required';
  return undefined;
}

/** The keys the schema allows at `path` (an object's path), for "did you mean" hints. */
function knownKeysAt(path: KeyPath): string[] {
  let s: z.core.$ZodType | undefined = fileSchema;
  const unwrap = (t: z.core.$ZodType): z.core.$ZodType => {
    const def = t._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) return unwrap(def.innerType);
    if (def.type === 'pipe' && def.in) return unwrap(def.in);
    return t;
  };
  for (const seg of path) {
    if (!s) return [];
    const def = unwrap(s)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    s = def.type === 'array' ? def.element : def.type === 'object' && typeof seg === 'string' ? def.shape?.[seg] : undefined;
  }
  const def = s && (unwrap(s)._zod.def as { type: string; shape?: Record<string, unknown> });
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const kebab = key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/_/g, '-').toLowerCase();
  const close = known.find((k) => k === kebab) ?? known.find((k) => editDistance(k, key) <= 2);
  if (close) return `unknown key (did you mean ${close}?)`;
  return known.length > 0 ? `unknown key (allowed: ${known.join(', ')})` : 'unknown key';
}

/** Zod issues as file-path issues; an unrecognized-keys issue becomes one issue per key, at that key. */
function toSchemaIssues(issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  return issues.flatMap((iss): SchemaIssue[] => {
    const path = iss.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(path);
      return iss.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, known) }));
    }
    return [{ path, message: iss.message }];
  });
}

export type SchemaResult = { ok: true; config: GatewayConfig } | { ok: false; issues: SchemaIssue[] };

/** Validates plain data (parsed YAML) and resolves it to a `GatewayConfig`; file paths are left as written. */
export function validateConfig(data: unknown): SchemaResult {
  const r = configSchema.safeParse(data, { error: errorMap });
  return r.success ? { ok: true, config: r.data } : { ok: false, issues: toSchemaIssues(r.error.issues) };
}
