import t from 'tap';
import https from 'node:https';
import { Client } from 'undici';
import { runConcurrently, sleep, startHarness } from '../helpers/harness.js';

// Issue 3 acceptance: pool keys (design "Pool rules / Key").

t.test('fixed SNI: 500 requests from 50 client connections share at most max-conn backend connections', async (t) => {
  const h = await startHarness({ servers: 1, pool: { maxConn: 6 } });
  t.teardown(() => h.close());
  const connect = { ca: h.pki.pki.ca.certPem, servername: 'localhost' };
  const clients = Array.from({ length: 50 }, () => new Client(`https://localhost:${h.port}`, { connect, pipelining: 1 }));
  let clientConnects = 0;
  for (const c of clients) c.on('connect', () => clientConnects++);
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const backendConns = new Set<string>();
  let ok = 0;
  await runConcurrently(50, 50, async (k) => {
    for (let i = 0; i < 10; i++) {
      const r = await clients[k]!.request({ method: 'GET', path: `/hello?c=${k}&i=${i}`, headers: { host: 'localhost' } });
      if ((await r.body.text()).startsWith('hello from') && r.statusCode === 200) ok++;
      backendConns.add(String(r.headers['x-conn-id']));
    }
  });
  t.equal(ok, 500, '500 answers, all 200');
  t.equal(clientConnects, 50, '50 distinct client connections');
  t.ok(backendConns.size <= 6, `${backendConns.size} backend connections carried them (max-conn 6)`);
  const s = h.servers[0]!.stats;
  t.ok(s.handshakes <= 6, `${s.handshakes} backend handshakes`);
  t.same(new Set(s.sniPerConnection), new Set(['farm.test']), 'every handshake presented the configured SNI');
});

t.test('sni: host: one pool per name; Host a and b never share a backend connection, and each name shares its own', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' } }, pool: { maxConn: 3 } });
  t.teardown(() => h.close());
  // node:https keep-alive agents, one socket each: the client's SNI stays `localhost` (the
  // gateway's certificate) while the Host header names the farm (undici would switch its SNI).
  const agents = Array.from({ length: 8 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  t.teardown(() => agents.forEach((a) => a.destroy()));
  let ok = 0;
  let peakOpen = 0;
  const openNow = () => h.gateway.farms.get('farm')!.servers[0]!.snapshot().pools.reduce((n, p) => n + p.open, 0);
  // Interleaved: even clients ask for a.test, odd ones for b.test, all at once.
  await runConcurrently(8, 8, async (k) => {
    const name = k % 2 ? 'b.test' : 'a.test';
    for (let i = 0; i < 10; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: h.port, path: `/hello?k=${k}`, agent: agents[k], ca: h.pki.pki.ca.certPem, servername: 'localhost', headers: { host: name } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
      if (status === 200) ok++;
      peakOpen = Math.max(peakOpen, openNow());
    }
  });
  t.equal(ok, 80);
  t.ok(peakOpen <= 3, `at most max-conn (3) open to the server across both keys (peak seen ${peakOpen})`);
  // Only b.test from now on: it takes over the server's budget by closing a.test's idle ones.
  const before = h.servers[0]!.stats.handshakes;
  await runConcurrently(3, 3, async (k) => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: h.port, path: `/slow/30`, agent: agents[2 * k + 1], ca: h.pki.pki.ca.certPem, servername: 'localhost', headers: { host: 'b.test' } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(String(res.statusCode)))));
          })
          .on('error', reject);
      });
      peakOpen = Math.max(peakOpen, openNow());
    }
  });
  t.ok(peakOpen <= 3, `still at most 3 open (peak ${peakOpen})`);
  t.ok(h.servers[0]!.stats.handshakes - before <= 3, 'b.test grew by reclaiming capacity, not beyond it');
  const s = h.servers[0]!;
  const hostsOn = new Map<number, Set<string>>();
  const sniOf = new Map<number, string>();
  for (const r of s.requests) {
    const hostIdx = r.rawHeaders.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'host');
    const host = r.rawHeaders[hostIdx + 1]!;
    sniOf.set(r.connId, r.sni);
    if (!hostsOn.has(r.connId)) hostsOn.set(r.connId, new Set());
    hostsOn.get(r.connId)!.add(host);
  }
  let mixed = 0;
  let mismatched = 0;
  for (const [id, hosts] of hostsOn) {
    if (hosts.size !== 1) mixed++;
    if (![...hosts].every((host) => host === sniOf.get(id))) mismatched++;
  }
  t.equal(mixed, 0, 'no backend connection carried both names');
  t.equal(mismatched, 0, 'every request rode a connection whose SNI is its Host');
  const perName = (n: string) => [...hostsOn].filter(([, hosts]) => hosts.has(n)).length;
  t.ok(perName('a.test') >= 1 && perName('a.test') <= 3, `a.test: ${perName('a.test')} connections for 40 requests from 4 clients (shared; max-conn 3 per key)`);
  t.ok(perName('b.test') >= 1 && perName('b.test') <= 3, `b.test: ${perName('b.test')} connections`);
  const keys = h.gateway.farms.get('farm')!.servers[0]!.snapshot().pools.map((p) => p.key);
  t.equal(keys.length, 2, 'stats show each pool key separately');
  t.ok(keys.some((k) => k.includes(':a.test:')) && keys.some((k) => k.includes(':b.test:')), keys.join(' '));
});

t.test('min-idle 3 on a server that was just restarted: 3 connections are back, at least 2 resumed', async (t) => {
  const h = await startHarness({ servers: 1, pool: { maxConn: 6, minIdle: 3 } });
  t.teardown(() => h.close());
  const pool = h.gateway.farms.get('farm')!.servers[0]!.pools()[0]!;
  for (let i = 0; i < 250 && pool.snapshot().idle < 3; i++) await sleep(20);
  t.equal(pool.snapshot().idle, 3, 'warm at start');
  // Restart: the server drops every connection and comes back on the same port.
  const old = h.servers[0]!;
  const port = old.port;
  await old.close();
  const { startFarmServer } = await import('../../src/demo/farm-server.js');
  const fresh = await startFarmServer({ name: 's1', port, cert: h.pki.pki.farm.certPem, key: h.pki.pki.farm.keyPem });
  h.servers[0] = fresh;
  for (let i = 0; i < 500 && (pool.snapshot().idle < 3 || fresh.stats.handshakes < 3); i++) await sleep(20);
  t.equal(pool.snapshot().idle, 3, '3 idle connections again');
  t.equal(fresh.stats.handshakes, 3, 'the restarted server saw 3 handshakes');
  t.ok(fresh.stats.resumedHandshakes >= 2, `${fresh.stats.resumedHandshakes} of them resumed the TLS session`);
});
