import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDevCerts } from '../certs/dev-certs.js';
import type { GatewayConfig } from '../config/config-types.js';
import { createLogger } from '../core/logger.js';
import { startFarmServer, type FarmServer } from '../demo/farm-server.js';
import { oneShotRequest, percentile } from '../demo/one-shot-client.js';
import { startWanRelay, type WanRelay } from '../demo/wan-relay.js';
import { Gateway } from './gateway.js';

export interface DemoOptions {
  rttMs: number;
  requests: number;
  port: number;
  /** Keep running after the comparison (the default for `longhaul demo`). */
  stay: boolean;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `longhaul demo`: everything on loopback. Two TLS farm servers sit behind an emulated WAN; the
 * same Java-style `Connection: close` client runs first straight at the farm, then through the
 * gateway; the comparison is printed, and the gateway keeps running for curl.
 */
export async function runDemo(o: DemoOptions): Promise<{ gateway: Gateway; stop: () => Promise<void> }> {
  const certDir = path.join(ROOT, 'certs', 'dev');
  const gwCerts = await writeDevCerts(certDir, { name: 'gateway', dns: ['localhost'], ip: ['127.0.0.1', '::1'] });
  const farmCerts = await writeDevCerts(certDir, { name: 'farm', dns: ['localhost', 'farm.demo'], ip: ['127.0.0.1'] });
  const ca = readFileSync(gwCerts.caCert);
  const servers: FarmServer[] = [];
  const relays: WanRelay[] = [];
  for (const name of ['us-1', 'us-2']) {
    const s = await startFarmServer({ name, cert: readFileSync(farmCerts.cert, 'utf8'), key: readFileSync(farmCerts.key, 'utf8') });
    servers.push(s);
    relays.push(await startWanRelay({ target: { host: '127.0.0.1', port: s.port }, rttMs: o.rttMs }));
  }
  const pool = { maxConn: 4, maxIdle: 4, minIdle: 2, idleTimeout: 290_000, provenWindow: 2000, maxReuse: 0, maxAge: 0, purgeInterval: 5000, burst: 'open' as const };
  const config: GatewayConfig = {
    listeners: [
      {
        name: 'clients',
        bind: { host: '127.0.0.1', port: o.port },
        engine: 'node',
        tls: { cert: gwCerts.cert, key: gwCerts.key, sniCerts: [] },
        farm: 'us-api',
        timeouts: { client: 30_000, httpRequest: 10_000, httpKeepAlive: 10_000 },
      },
    ],
    admin: { bind: { host: '127.0.0.1', port: o.port === 0 ? 0 : 9900 }, tokenFile: null },
    log: { level: 'warn', access: false },
    shutdownGrace: 5_000,
    farms: [
      {
        name: 'us-api',
        balance: 'leastconn',
        httpReuse: 'always',
        private: false,
        retries: 3,
        redispatch: true,
        requestIdCheck: true,
        retryOn: ['conn-failure', 'empty-response'],
        replayBuffer: 64 * 1024,
        timeouts: { connect: 5000, server: 60_000, queue: 10_000 },
        tls: { ca: gwCerts.caCert, sni: { kind: 'fixed', name: 'farm.demo' }, verify: true, cert: null, key: null },
        pool,
        health: { enabled: false, path: '/health', method: 'GET', expectStatus: 200, inter: 2000, fastinter: 500, downinter: 5000, rise: 2, fall: 3, disableOn404: false, timeout: 2000, observe: 'none', errorLimit: 10 },
        servers: relays.map((r, i) => ({ name: `us-${i + 1}`, address: { host: '127.0.0.1', port: r.port }, weight: 100, backup: false, pool })),
      },
    ],
  };
  const log = createLogger(process.env.LONGHAUL_LOG_LEVEL ?? 'warn');
  const gateway = await Gateway.start(config, log);
  const port = gateway.listeners[0]!.port;
  const handshakes = () => servers.reduce((n, s) => n + s.stats.handshakes, 0);
  // Let min-idle warm up, as it would long before the first client of the day.
  for (let i = 0; i < 100 && handshakes() < 4; i++) await sleep(50);

  const out = (s: string) => process.stdout.write(s + '\n');
  out(`longhaul demo: 2 TLS farm servers behind an emulated WAN (${o.rttMs} ms RTT), ${o.requests} Connection: close requests each way\n`);

  const h0 = handshakes();
  const direct: number[] = [];
  for (let i = 0; i < o.requests; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port: relays[i % 2]!.port, path: '/hello', ca, servername: 'farm.demo' });
    if (r.status !== 200) throw new Error(`direct request failed: ${r.status}`);
    direct.push(r.ms);
  }
  const directHs = handshakes() - h0;

  const h1 = handshakes();
  const via: number[] = [];
  for (let i = 0; i < o.requests; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca, servername: 'localhost' });
    if (r.status !== 200) throw new Error(`request through the gateway failed: ${r.status}`);
    via.push(r.ms);
  }
  const viaHs = handshakes() - h1;

  const row = (name: string, v: number[], hs: number) =>
    `${name.padEnd(22)} ${fmt(percentile(v, 50)).padStart(9)} ${fmt(percentile(v, 99)).padStart(9)} ${String(hs).padStart(18)}`;
  out(`${''.padEnd(22)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'backend handshakes'.padStart(18)}`);
  out(row('direct to farm', direct, directHs));
  out(row('through longhaul', via, viaHs));
  out('');
  const stop = async () => {
    await gateway.stop();
    await Promise.all([...relays.map((r) => r.close()), ...servers.map((s) => s.close())]);
  };
  if (o.stay) {
    out(`longhaul is listening on https://localhost:${port} (farm: 2 servers, ${o.rttMs} ms away). Try:`);
    out(`  curl --cacert ${path.relative(process.cwd(), gwCerts.caCert) || gwCerts.caCert} -H 'Connection: close' https://localhost:${port}/hello`);
    out(`  curl http://127.0.0.1:${gateway.admin!.port}/stats`);
    out('Ctrl-C stops it.');
  }
  return { gateway, stop };
}

function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
