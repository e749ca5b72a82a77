import type { FarmConfig, GatewayConfig, ListenerConfig, PoolConfig, ServerConfig } from '../../src/config/config-types.js';

/** Test configs built in code (the YAML loader has its own tests). Defaults mirror the schema. */
export function poolConfig(over: Partial<PoolConfig> = {}): PoolConfig {
  const maxConn = over.maxConn ?? 12;
  return { maxConn, maxIdle: over.maxIdle ?? maxConn, minIdle: 0, idleTimeout: 290_000, provenWindow: 2000, maxReuse: 0, maxAge: 0, purgeInterval: 5000, burst: 'open', ...over };
}

export function serverConfig(name: string, port: number, over: Partial<ServerConfig> = {}, pool: Partial<PoolConfig> = {}): ServerConfig {
  return { name, address: { host: '127.0.0.1', port }, weight: 100, backup: false, pool: poolConfig(pool), ...over };
}

export function farmConfig(name: string, caFile: string, servers: ServerConfig[], over: Partial<FarmConfig> = {}): FarmConfig {
  return {
    name,
    balance: 'leastconn',
    httpReuse: 'always',
    private: false,
    retries: 3,
    redispatch: true,
    requestIdCheck: true,
    retryOn: ['conn-failure', 'empty-response'],
    replayBuffer: 64 * 1024,
    timeouts: { connect: 5000, server: 60_000, queue: 10_000 },
    tls: { ca: caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null },
    pool: servers[0]?.pool ?? poolConfig(),
    health: { enabled: false, path: '/health', method: 'GET', expectStatus: 200, inter: 2000, fastinter: 500, downinter: 5000, rise: 2, fall: 3, disableOn404: false, timeout: 2000, observe: 'none', errorLimit: 10 },
    servers,
    ...over,
  };
}

export function listenerConfig(farm: string, cert: string, key: string, over: Partial<ListenerConfig> = {}): ListenerConfig {
  return {
    name: 'clients',
    bind: { host: '127.0.0.1', port: 0 },
    engine: 'node',
    tls: { cert, key, sniCerts: [] },
    farm,
    timeouts: { client: 30_000, httpRequest: 10_000, httpKeepAlive: 10_000 },
    ...over,
  };
}

export function gatewayConfig(listeners: ListenerConfig[], farms: FarmConfig[]): GatewayConfig {
  return { listeners, admin: null, log: { level: 'silent', access: false }, farms, shutdownGrace: 30_000 };
}
