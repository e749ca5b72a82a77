import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { runExchange } from '../../src/proxy/exchange.js';
import { ServerPool } from '../../src/pool/server-pool.js';
import { createFarmTls } from '../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../src/tls/tls-session-cache.js';
import { CollectingSink } from '../helpers/collecting-sink.js';
import { poolConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startEarlyTalker } from '../helpers/pool-fault-servers.js';
import { until } from '../helpers/until.js';

/**
 * Bug (issue 11 item 5): a min-idle connection was not read until its first lease (undici takes
 * the socket only then), so bytes or a FIN the server sent to it while it was warm lay unseen and
 * the first request on it failed. Fixed: from the moment it is ready the connection is watched
 * (Pingora's rule): any byte, FIN or error while unused retires it.
 */
for (const how of ['bytes', 'fin'] as const) {
  t.test(`server sends ${how} on a warm connection before its first use: the first request succeeds on another one`, async (t) => {
    const f = await pkiFiles();
    const server = await startEarlyTalker(f.pki.farm.certPem, f.pki.farm.keyPem, how, 1);
    const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
    const p = new ServerPool({
      key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
      pool: poolConfig({ maxConn: 4, minIdle: 1 }), connectTimeoutMs: 2000, queueTimeoutMs: 2000, log: silentLogger,
    });
    t.teardown(async () => {
      await p.close();
      await server.close();
    });
    p.warm();
    t.equal(await p.warmed(), 'warm');
    const first = p.connections()[0]!;
    await until(() => server.faults === 1, 'the server misbehaved on the warm connection');
    // Warm-up replaces the retired connection (min-idle 1): the server's second connection.
    await until(() => first.state === 'closed' && p.snapshot().idle === 1, 'the warm connection was retired and replaced', 80);
    const lease = await p.lease({ idempotent: true });
    const sink = new CollectingSink();
    const r = await runExchange(lease, { method: 'GET', path: '/', headers: ['host', 'farm.test'], body: null, serverTimeoutMs: 2000 }, sink);
    p.release(lease.conn, r.reusable);
    t.equal(r.status, 200, 'first request answered 200');
    t.not(lease.conn.id, first.id, 'it rode another connection than the one the server spoke on');
    t.equal(p.snapshot().counters.retiredByServer, 1, 'the retired warm connection is counted (retired by server)');
    t.equal(server.answered, 1, 'one request reached the server');
    t.equal(server.connections, 2, 'two connections: the retired one and its replacement');
  });
}
