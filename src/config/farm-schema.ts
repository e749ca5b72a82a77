/** The `farms[]` section: balancing, reuse, retries, timeouts, TLS to the servers, and the servers. */
import { z } from 'zod';
import { isIP } from 'node:net';
import type { FarmTlsConfig, HostHeaderRule } from './config-types.js';
import { discoverSchema } from './discover-schema.js';
import { headerRulesSchema } from './header-rules-schema.js';
import { healthSchema } from './health-schema.js';
import { cipherList } from './cipher-list.js';
import { hostPort, isHostName } from './host-port.js';
import { hostPoolsFields } from './host-pools-schema.js';
import { farmPoolSchema, serverPoolSchema } from './pool-schema.js';
import { bool, describe, duration, filePath, int, name, need, oneOf, size } from './schema-scalars.js';

/** Absent `sni` is `{kind:'address'}`: each server's address host name, or none for an IP address. */
const sni = () =>
  z.string({ error: need('must be a host name, host or none') }).transform((text, ctx): FarmTlsConfig['sni'] => {
    if (text === 'host') return { kind: 'host' };
    if (text === 'none') return { kind: 'none' };
    if (isHostName(text)) return { kind: 'fixed', name: text };
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a host name (SNI cannot be an IP address); use a name, host or none` });
    return z.NEVER;
  });

/** `host-header`: keep | sni | <host name, optionally :port>; absent = sni (src/proxy/host-header.ts). */
const hostHeader = () =>
  z.string({ error: need('must be keep, sni or a host name') }).transform((text, ctx): HostHeaderRule => {
    const t = text.trim();
    if (t === 'keep') return { kind: 'keep' };
    if (t === 'sni') return { kind: 'sni' };
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(t);
    const host = m?.[1] ?? '';
    const port = m?.[2] === undefined ? 1 : Number(m[2]);
    if (m && (isHostName(host) || isIP(host) === 4 || (host.startsWith('[') && isIP(host.slice(1, -1)) === 6)) && port >= 1 && port <= 65535)
      return { kind: 'literal', value: t.toLowerCase() };
    ctx.addIssue({ code: 'custom', message: `"${text}" is not keep, sni or a host[:port] (e.g. api.example.net)` });
    return z.NEVER;
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

const serverSchema = z.strictObject({
  name: name(),
  address: hostPort(false),
  weight: int(0, 256).default(1),
  backup: bool().default(false),
  pool: serverPoolSchema.optional(),
});

export const farmSchema = z.strictObject({
  name: name(),
  balance: oneOf(['roundrobin', 'leastconn', 'first']).default('leastconn'),
  'http-reuse': oneOf(['never', 'safe', 'aggressive', 'always']).default('always'),
  private: bool().default(false),
  retries: int(0).default(3),
  redispatch: bool().default(true),
  'request-id-check': bool().default(true),
  'retry-on': z.array(retryOnItem(), { error: need('must be a list') }).prefault(['conn-failure', 'empty-response']),
  'replay-buffer': size().prefault('64KiB'),
  /** Body bytes received before a backend connection is leased (nginx proxy_request_buffering; issue 11 item 9). */
  'request-buffer': size().prefault('64KiB'),
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
    'min-version': oneOf(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    ciphers: cipherList().nullable().default(null),
    ...hostPoolsFields,
  }).prefault({}),
  pool: farmPoolSchema.prefault({}),
  /** Present (even empty or null) enables health checks. */
  health: healthSchema.nullable().optional(),
  /** At least one server, or `discover` (checked in discover-schema.ts checkFarmDiscovery). */
  servers: z.array(serverSchema, { error: need('must be a list of servers') }).default([]),
  'host-header': hostHeader().optional(),
  'request-headers': headerRulesSchema('request').optional(),
  'response-headers': headerRulesSchema('response').optional(),
  discover: discoverSchema.optional(),
});
