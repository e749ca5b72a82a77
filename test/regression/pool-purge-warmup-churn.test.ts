import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { runExchange } from '../../src/proxy/exchange.js';
import { ServerPool, type Lease } from '../../src/pool/server-pool.js';
import { createFarmTls } from '../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../src/tls/tls-session-cache.js';
import { CollectingSink } from '../helpers/collecting-sink.js';
import { poolConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { until } from '../helpers/until.js';

/**
 * Bug (bench, issue 5): 10–20 farm handshakes per 1000 requests under steady load, with
 * min-idle 2. A purge trimmed idle connections down to max(min-idle + busy, peak busy); the
 * trimmed connection's close completes asynchronously, and by then a request had made one of the
 * remaining ones busy, so warm-up (run on every close) saw fewer than min-idle idle and opened a
 * new connection — every purge period. Fixed in idle-policy.ts: a period needs min-idle + its
 * peak busy.
 */
t.test('min-idle 2, one request at a time, purges between requests: no handshake churn', async (t) => {
  const f = await pkiFiles();
  const server = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
  const p = new ServerPool({
    key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
    pool: poolConfig({ maxConn: 8, minIdle: 2, purgeInterval: 3_600_000 }), connectTimeoutMs: 2000, queueTimeoutMs: 5000, log: silentLogger,
  });
  t.teardown(async () => {
    await p.close();
    await server.close();
  });
  // 50 ms exchanges: as over a WAN, the request is still running when a trimmed connection's
  // close completes.
  const exchange = async (lease: Lease): Promise<void> => {
    const r = await runExchange(lease, { method: 'GET', path: '/slow/50', headers: ['host', 'farm.test'], body: null, serverTimeoutMs: 5000 }, new CollectingSink());
    await new Promise<void>((res) => queueMicrotask(() => (p.release(lease.conn, r.reusable), res())));
  };
  p.warm();
  await until(() => p.snapshot().idle === 2, 'min-idle warmed');
  // Three at once: a third connection is opened for the demand.
  await Promise.all((await Promise.all([0, 1, 2].map(() => p.lease({ idempotent: true })))).map(exchange));
  await until(() => p.snapshot().idle === 3, 'three idle');
  const before = server.stats.handshakes;
  for (let period = 0; period < 6; period++) {
    p.purgeOnce();
    // A request right after the purge, while a trimmed connection would still be closing.
    await exchange(await p.lease({ idempotent: true }));
    await new Promise((r) => setTimeout(r, 30));
  }
  t.equal(server.stats.handshakes, before, 'no farm handshake during 6 purge periods of steady one-at-a-time load');
  t.equal(p.snapshot().idle, 3, 'min-idle 2 + the 1 a request uses stay open');
});
