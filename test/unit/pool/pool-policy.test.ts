import t, { type Test } from 'tap';
import type { PoolConfig } from '../../../src/config/config-types.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startFarmServer, type FarmBehavior } from '../../../src/demo/farm-server.js';
import { runExchange } from '../../../src/proxy/exchange.js';
import { ServerPool, type Lease } from '../../../src/pool/server-pool.js';
import { createFarmTls } from '../../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../../src/tls/tls-session-cache.js';
import { CollectingSink } from '../../helpers/collecting-sink.js';
import { poolConfig } from '../../helpers/configs.js';
import { sleep } from '../../helpers/harness.js';
import { pkiFiles } from '../../helpers/pki-files.js';

async function setup(t: Test, pool: Partial<PoolConfig> = {}, behavior: FarmBehavior = {}, keepAliveTimeoutMs?: number) {
  const f = await pkiFiles();
  const server = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem, behavior, ...(keepAliveTimeoutMs ? { keepAliveTimeoutMs } : {}) });
  const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
  const p = new ServerPool({
    key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
    pool: poolConfig(pool), connectTimeoutMs: 2000, queueTimeoutMs: 5000, log: silentLogger,
  });
  t.teardown(async () => {
    await p.close();
    await server.close();
  });
  return { server, p };
}

async function exchange(p: ServerPool, method: string, path: string, idempotent = method !== 'POST', leased?: Promise<Lease>) {
  const lease = await (leased ?? p.lease({ idempotent }));
  const sink = new CollectingSink();
  const r = await runExchange(lease, { method, path, headers: ['host', 'farm.test'], body: null, serverTimeoutMs: 5000 }, sink);
  await new Promise<void>((res) => queueMicrotask(() => (p.release(lease.conn, r.reusable), res())));
  return { r, connId: lease.conn.id, reused: lease.reused };
}

t.test('Keep-Alive: timeout=2 hint, a request every 2 s for 30 s: no error, the gateway closes idle connections first', async (t) => {
  const { server, p } = await setup(t, { idleTimeout: 290_000 }, { keepAliveHintSeconds: 2 }, 2000);
  let ok = 0;
  for (let i = 0; i < 15; i++) {
    if ((await exchange(p, i % 3 === 0 ? 'POST' : 'GET', i % 3 === 0 ? '/echo' : '/hello')).r.status === 200) ok++;
    await sleep(2000);
  }
  t.equal(ok, 15, 'zero errors');
  t.ok(server.stats.connectionClosedByClient >= 13, `closed by the gateway: ${server.stats.connectionClosedByClient}`);
  t.equal(server.stats.connectionClosedByServer, 0, 'the server never had to close an idle connection');
});

t.test('non-idempotent requests after proven-window go on a fresh connection; idempotent ones reuse', async (t) => {
  const { p } = await setup(t, { provenWindow: 300 });
  const first = await exchange(p, 'GET', '/hello');
  const post1 = await exchange(p, 'POST', '/hello');
  t.equal(post1.connId, first.connId, 'a POST right after use rides the proven connection');
  await sleep(500);
  const get = await exchange(p, 'GET', '/hello');
  t.equal(get.connId, first.connId, 'a GET after the window reuses');
  await sleep(500);
  const post2 = await exchange(p, 'POST', '/hello');
  t.not(post2.connId, first.connId, 'a POST after the window gets a fresh connection');
  t.equal(post2.reused, false);
});

t.test('max-reuse and max-age retire old connections', async (t) => {
  const { p } = await setup(t, { maxReuse: 3 });
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push((await exchange(p, 'GET', '/hello')).connId);
  t.equal(new Set(ids).size, 3, `3 uses per connection: ${ids.join(',')}`);
  const { p: p2 } = await setup(t, { maxAge: 200 });
  const a = (await exchange(p2, 'GET', '/hello')).connId;
  await sleep(300);
  const b = (await exchange(p2, 'GET', '/hello')).connId;
  await sleep(10);
  const c = (await exchange(p2, 'GET', '/hello')).connId;
  t.equal(a, b, 'age is checked when the connection comes back');
  t.not(b, c, 'too old after that exchange: retired');
});

t.test('trimming: idle connections above recent demand decrease step by step', async (t) => {
  const { p } = await setup(t, { maxConn: 12, minIdle: 0, burst: 'open', purgeInterval: 3_600_000 });
  // All 12 leased before any exchange runs: a burst of 12 at once, however slow this machine is.
  const leases = await Promise.all(Array.from({ length: 12 }, () => p.lease({ idempotent: true })));
  await Promise.all(leases.map((l) => exchange(p, 'GET', '/hello', true, Promise.resolve(l))));
  t.equal(p.snapshot().idle, 12, 'the burst opened 12 connections');
  const steps = [p.purgeOnce()];
  for (let i = 0; i < 8 && p.snapshot().idle > 0; i++) steps.push(p.purgeOnce());
  t.equal(steps[0], 0, 'the period that saw the burst keeps them all');
  t.ok(steps.slice(1).every((n) => n <= 6), `never all at once: ${steps.join(',')}`);
  t.same(steps.filter((n) => n > 0), [6, 3, 2, 1], 'half of the excess per period');
  t.equal(p.snapshot().idle, 0);
});

t.test('trimming never goes below min-idle', async (t) => {
  const { p } = await setup(t, { maxConn: 8, minIdle: 2, burst: 'open', purgeInterval: 3_600_000 });
  const leases = await Promise.all(Array.from({ length: 8 }, () => p.lease({ idempotent: true })));
  await Promise.all(leases.map((l) => exchange(p, 'GET', '/hello', true, Promise.resolve(l))));
  for (let i = 0; i < 10; i++) p.purgeOnce();
  t.equal(p.snapshot().idle, 2);
});

t.test('burst policy: short exchanges on a slow-to-connect server wait instead of opening', async (t) => {
  // Teach the pool: setup is "slow" relative to exchanges by making exchanges instant.
  for (const burst of ['adaptive', 'open'] as const) {
    const { p, server } = await setup(t, { maxConn: 8, burst });
    await exchange(p, 'GET', '/hello'); // one connection, measured setup and exchange
    p.demand.setupMs = 200; // as over a 100 ms RTT WAN
    p.demand.exchangeMs = 5;
    await Promise.all(Array.from({ length: 8 }, () => exchange(p, 'GET', '/hello')));
    const hs = server.stats.handshakes;
    if (burst === 'adaptive') t.ok(hs <= 2, `adaptive: ${hs} handshakes for a burst of 8 short requests`);
    else t.ok(hs >= 4, `open: ${hs} handshakes`);
  }
});
