import type { AdminConfig, Engine, FarmConfig, FarmTlsConfig, PoolConfig, ServerConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer, type FarmBehavior, type FarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from './configs.js';
import { pkiFiles, type PkiFiles } from './pki-files.js';

export interface Harness {
  gateway: Gateway;
  servers: FarmServer[];
  port: number;
  pki: PkiFiles;
  handshakes(): number;
  close(): Promise<void>;
}

export interface HarnessOptions {
  servers?: number;
  engine?: Engine;
  pool?: Partial<PoolConfig>;
  behavior?: FarmBehavior;
  farm?: Partial<FarmConfig>;
  /** Merged into the farm's TLS settings (the harness's CA stays unless given). */
  farmTls?: Partial<FarmTlsConfig>;
  /** Per-server config overrides, by index (e.g. `[{}, { backup: true }]`). */
  serverOver?: Array<Partial<ServerConfig>>;
  /** Admin listener (loopback, port 0 unless given). */
  admin?: Partial<AdminConfig>;
  keepAliveTimeoutMs?: number;
}

/** Real TLS farm servers on loopback, a real gateway in front of them; nothing mocked. */
export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const pki = await pkiFiles();
  const servers: FarmServer[] = [];
  for (let i = 0; i < (o.servers ?? 2); i++) {
    servers.push(
      await startFarmServer({
        name: `s${i + 1}`,
        cert: pki.pki.farm.certPem,
        key: pki.pki.farm.keyPem,
        behavior: { ...o.behavior },
        ...(o.keepAliveTimeoutMs ? { keepAliveTimeoutMs: o.keepAliveTimeoutMs } : {}),
      }),
    );
  }
  const farm = farmConfig(
    'farm',
    pki.caFile,
    servers.map((s, i) => serverConfig(s.name, s.port, o.serverOver?.[i] ?? {}, o.pool)),
    o.farm,
  );
  if (o.farmTls) farm.tls = { ...farm.tls, ...o.farmTls };
  const cfg = gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey, { engine: o.engine ?? 'node' })], [farm]);
  if (o.admin) cfg.admin = { bind: { host: '127.0.0.1', port: 0 }, tokenFile: null, ...o.admin };
  const gateway = await Gateway.start(cfg, silentLogger);
  return {
    gateway,
    servers,
    port: gateway.listeners[0]!.port,
    pki,
    handshakes: () => servers.reduce((n, s) => n + s.stats.handshakes, 0),
    close: async () => {
      await gateway.stop();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

/**
 * Kill server `i` (every connection destroyed, like a crash or `apachectl -k stop`) and start a
 * new one on the same port; `h.servers[i]` is the new one afterwards. With `down`, `h.servers[i]`
 * is left stopped and `up()` starts the new one when the test wants it.
 */
export async function killServer(h: Harness, i: number): Promise<{ up(behavior?: FarmBehavior): Promise<FarmServer> }> {
  const old = h.servers[i]!;
  await old.close();
  return {
    up: async (behavior = {}) => {
      const s = await startFarmServer({ name: old.name, port: old.port, cert: h.pki.pki.farm.certPem, key: h.pki.pki.farm.keyPem, behavior });
      h.servers[i] = s;
      return s;
    },
  };
}

/** Run `fn` over `count` items with `concurrency` workers. */
export async function runConcurrently<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/** Pool counts of every server, summed: what must return to idle after traffic stops. */
export function poolTotals(h: Harness): { open: number; idle: number; busy: number; connecting: number } {
  const t = { open: 0, idle: 0, busy: 0, connecting: 0 };
  for (const s of h.gateway.farms.get('farm')!.servers)
    for (const p of s.pools()) {
      const snap = p.snapshot();
      t.open += snap.open;
      t.idle += snap.idle;
      t.busy += snap.busy;
      t.connecting += snap.connecting;
    }
  return t;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
