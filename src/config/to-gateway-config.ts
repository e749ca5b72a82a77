/** Mapping of a fully valid file (kebab-case) to the resolved camelCase `GatewayConfig`. */
import { adminSchema } from './admin-log-schema.js';
import type { FarmConfig, GatewayConfig, HealthConfig, ListenerConfig, PoolConfig } from './config-types.js';
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

export function toGatewayConfig(c: FileConfig): GatewayConfig {
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
    forwardedFor: l['forwarded-for'],
  }));
  const admin = c.admin === undefined ? null : (() => {
    const a = c.admin ?? adminSchema.parse({});
    return { bind: a.bind, tokenFile: a['token-file'], hosts: a.hosts };
  })();
  return { listeners, admin, log: { level: c.log.level, access: c.log.access, destination: c.log.destination }, farms: c.farms.map(toFarm), shutdownGrace: c['shutdown-grace'] };
}
