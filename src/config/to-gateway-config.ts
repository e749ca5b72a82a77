/** Mapping of a fully valid file (kebab-case) to the resolved camelCase `GatewayConfig`. */
import { DEFAULT_LISTENER_MAX_CONN } from '../core/client-access-policy.js';
import { adminSchema } from './admin-log-schema.js';
import type { FileDiscover } from './discover-schema.js';
import type { DiscoverConfig, FarmConfig, GatewayConfig, HealthConfig, ListenerConfig, PoolConfig } from './config-types.js';
import type { FileConfig, FileFarm, FilePool, FileServerPool } from './file-schema.js';
import { healthSchema } from './health-schema.js';

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
    maxQueue: server['max-queue'] ?? farm['max-queue'],
  };
}

const HEALTH_DEFAULTS = healthSchema.parse({});
function toHealth(h: FileFarm['health']): HealthConfig {
  const v = h ?? HEALTH_DEFAULTS;
  return {
    enabled: h !== undefined,
    path: v.path, method: v.method, expectStatus: v['expect-status'],
    inter: v.inter, fastinter: v.fastinter ?? v.inter, downinter: v.downinter ?? v.inter,
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
    requestIdCheck: f['request-id-check'],
    retryOn: f['retry-on'],
    replayBuffer: f['replay-buffer'],
    requestBuffer: f['request-buffer'],
    timeouts: { ...f.timeouts },
    tls: {
      ca: f.tls.ca, sni: f.tls.sni ?? defaultSni(f), verify: f.tls.verify, cert: f.tls.cert, key: f.tls.key,
      minVersion: f.tls['min-version'], ciphers: f.tls.ciphers,
      maxHostPools: f.tls['max-host-pools'], sniAllow: f.tls['sni-allow'], warmHostPools: f.tls['warm-host-pools'],
    },
    pool: mergePool(f.pool),
    health: toHealth(f.health),
    servers: f.servers.map((s) => ({
      name: s.name, address: s.address, weight: s.weight, backup: s.backup, pool: mergePool(f.pool, s.pool),
    })),
    hostHeader: f['host-header'] ?? { kind: 'sni' },
    requestHeaders: f['request-headers'] ?? { set: [], add: [], remove: [] },
    responseHeaders: f['response-headers'] ?? { set: [], add: [], remove: [] },
    discover: f.discover ? toDiscover(f.discover, f.pool) : null,
  };
}

/**
 * `tls.sni` absent: each server's address host name — except in a farm that discovers its
 * servers, whose addresses are the IPs DNS returned: there the SNI (and the name the certificate
 * is verified against) is the discovered name, without `_service._proto.` for SRV (issue 13).
 */
function defaultSni(f: FileFarm): FarmConfig['tls']['sni'] {
  if (!f.discover) return { kind: 'address' };
  const name = f.discover.type === 'SRV' ? f.discover.name.replace(/^_[^.]+\._[^.]+\./, '') : f.discover.name;
  return { kind: 'fixed', name };
}

function toDiscover(d: FileDiscover, farmPool: FilePool): DiscoverConfig {
  return {
    name: d.name, port: d.port ?? 0, type: d.type, every: d.every, maxServers: d['max-servers'],
    resolvers: d.resolvers, timeout: d.timeout, weight: d.weight, pool: mergePool(farmPool, d.pool),
  };
}

export function toGatewayConfig(c: FileConfig): GatewayConfig {
  const listeners: ListenerConfig[] = c.listeners.map((l) => ({
    name: l.name,
    bind: l.bind,
    engine: l.engine,
    tls: {
      cert: l.tls.cert,
      key: l.tls.key,
      sniCerts: l.tls['sni-certs'].map((c) => ({ cert: c.cert, key: c.key, names: c.names ?? null })),
      minVersion: l.tls['min-version'],
      ciphers: l.tls.ciphers,
      clientCa: l.tls['client-ca'],
      verify: l.tls.verify,
      subjectHeader: l.tls['client-subject-header'],
    },
    access: { allow: l.allow, maxConn: l['max-conn'] ?? DEFAULT_LISTENER_MAX_CONN },
    farm: l.farm,
    timeouts: { client: l.timeouts.client, httpRequest: l.timeouts['http-request'], httpKeepAlive: l.timeouts['http-keep-alive'] },
    forwardedFor: l['forwarded-for'],
    minUploadRate: l['min-upload-rate'],
  }));
  const admin = c.admin === undefined ? null : (() => {
    const a = c.admin ?? adminSchema.parse({});
    return { bind: a.bind, tokenFile: a['token-file'], hosts: a.hosts };
  })();
  return { listeners, admin, log: { level: c.log.level, access: c.log.access, destination: c.log.destination }, farms: c.farms.map(toFarm), shutdownGrace: c['shutdown-grace'], stateFile: c['state-file'] };
}
