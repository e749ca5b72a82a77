import t, { type Test } from 'tap';
import { startFarmServer } from '../../../src/demo/farm-server.js';
import { ServerPool } from '../../../src/pool/server-pool.js';
import { createFarmTls } from '../../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../../src/tls/tls-session-cache.js';
import { silentLogger } from '../../../src/core/logger.js';
import { runExchange } from '../../../src/proxy/exchange.js';
import { poolConfig } from '../../helpers/configs.js';
import { pkiFiles } from '../../helpers/pki-files.js';
import { CollectingSink } from '../../helpers/collecting-sink.js';
import type { PoolConfig } from '../../../src/config/config-types.js';

async function setup(t: Test, pool: Partial<PoolConfig> = {}, behavior = {}) {
  const f = await pkiFiles();
  const server = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem, behavior });
  const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
  const p = new ServerPool({
    key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
    pool: poolConfig(pool), connectTimeoutMs: 2000, queueTimeoutMs: 2000, log: silentLogger,
  });
  t.teardown(async () => { await p.close(); await server.close(); });
  return { server, p };
}

async function get(p: ServerPool, path: string) {
  const lease = await p.lease({ idempotent: true });
  const sink = new CollectingSink();
  const r = await runExchange(lease, { method: 'GET', path, headers: ['host', 'farm.test'], body: null, serverTimeoutMs: 5000 }, sink);
  await new Promise<void>((res) => queueMicrotask(() => { p.release(lease.conn, r.reusable); res(); }));
  return { r, sink, lease };
}

t.test('sequential requests reuse one connection; TLS handshake once', async (t) => {
  const { server, p } = await setup(t);
  for (let i = 0; i < 20; i++) {
    const { r, sink } = await get(p, '/hello');
    t.equal(r.status, 200);
    t.equal(sink.body().toString(), 'hello from s1');
  }
  t.equal(server.stats.handshakes, 1);
  t.equal(p.counters.leasesReused, 19);
  t.equal(p.snapshot().idle, 1);
});

t.test('max-conn caps concurrent connections; waiters queue FIFO', async (t) => {
  const { server, p } = await setup(t, { maxConn: 3 });
  const all = await Promise.all(Array.from({ length: 30 }, () => get(p, '/slow/20')));
  t.ok(all.every((x) => x.r.status === 200));
  t.ok(server.stats.handshakes <= 3, `handshakes ${server.stats.handshakes}`);
  t.ok(p.counters.queued > 0);
});

t.test('server Connection: close retires only that connection', async (t) => {
  const { server, p } = await setup(t, {}, { closeEvery: 3 });
  for (let i = 0; i < 9; i++) {
    const { r } = await get(p, '/hello');
    t.equal(r.status, 200);
  }
  t.equal(server.stats.handshakes, 3);
  t.equal(server.stats.resumedHandshakes, 2, 'later connections resume the TLS session');
});

t.test('min-idle opens connections one after another; later ones resume', async (t) => {
  const { server, p } = await setup(t, { minIdle: 3 });
  p.warm();
  for (let i = 0; i < 100 && p.snapshot().idle < 3; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(p.snapshot().idle, 3);
  t.equal(server.stats.fullHandshakes, 1);
  t.equal(server.stats.resumedHandshakes, 2);
});

t.test('state counts kept by the transitions match the connections (O(1) counts, issue 14 item 2)', async (t) => {
  const { p } = await setup(t, { maxConn: 4, minIdle: 2 });
  const scan = () => {
    const by: Record<string, number> = { connecting: 0, idle: 0, busy: 0, draining: 0 };
    for (const c of p.connections()) by[c.state] = (by[c.state] ?? 0) + 1;
    return by;
  };
  const counted = () => ({ open: p.openCount, idle: p.idleCount, busy: p.busyCount });
  const expected = () => {
    const s = scan();
    return { open: s.connecting! + s.idle! + s.busy!, idle: s.idle!, busy: s.busy! };
  };
  p.warm();
  await p.warmed();
  t.same(counted(), expected(), 'after warming');
  const leases = await Promise.all([p.lease({ idempotent: true }), p.lease({ idempotent: true }), p.lease({ idempotent: true })]);
  t.same(counted(), expected(), 'three busy');
  t.equal(p.busyCount, 3);
  p.release(leases[0]!.conn, true);
  p.release(leases[1]!.conn, false, 'broken on purpose');
  t.same(counted(), expected(), 'one back idle, one retired');
  p.release(leases[2]!.conn, true);
  p.closeIdle('test');
  t.same(counted(), expected(), 'idle ones retiring');
  t.equal(p.idleCount, 0);
});
