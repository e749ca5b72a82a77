import t from 'tap';
import type { HealthConfig } from '../../src/config/config-types.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { killServer, startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

const health = (over: Partial<HealthConfig> = {}): HealthConfig => ({
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 20, fastinter: 10, downinter: 20, rise: 2, fall: 2, disableOn404: false,
  timeout: 2000, observe: 'none', errorLimit: 10, ...over,
});

const get = (h: Harness, path = '/hello') =>
  oneShotRequest({ host: '127.0.0.1', port: h.port, path, ca: h.pki.pki.ca.certPem, servername: 'localhost' });

t.test('checks keep ONE keep-alive TLS connection: 20 checks, 1 handshake', async (t) => {
  const h = await startHarness({ servers: 1, farm: { health: health() } });
  t.teardown(() => h.close());
  const server = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => (server.checker?.stats.checks ?? 0) >= 20, '20 checks');
  const stats = server.checker!.stats;
  t.equal(stats.handshakesFull + stats.handshakesResumed, 1, 'one handshake on the gateway side');
  const checks = h.servers[0]!.requests.filter((r) => r.url === '/health');
  t.ok(checks.length >= 20, `the server saw ${checks.length} checks`);
  t.equal(new Set(checks.map((r) => r.connId)).size, 1, 'all on one server connection');
  t.equal(h.servers[0]!.stats.handshakes, 1, 'the server counted one handshake');
  t.equal(checks[0]!.method, 'GET');
  // The Host traffic gets (host-header default sni, issue 13): the SNI, with the port when not 443.
  t.ok(checks.every((r) => r.rawHeaders.includes(`farm.test:${h.servers[0]!.port}`)), 'Host is the farm SNI:port');
  t.equal(stats.failed, 0);
  t.equal(server.state, 'UP');
  t.same(server.snapshot().health?.checks?.last?.status, 200);
});

t.test('fall: a killed server goes DOWN and its idle connections close; rise: back UP after restart', async (t) => {
  const h = await startHarness({ servers: 2, farm: { health: health(), balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const [s1, s2] = h.gateway.farms.get('farm')!.servers;
  for (let i = 0; i < 4; i++) t.equal((await get(h)).status, 200);
  t.equal(s1!.pools()[0]!.snapshot().idle, 1, 's1 has an idle pooled connection');
  const killed = await killServer(h, 0);
  await until(() => s1!.state === 'DOWN', 's1 DOWN');
  t.equal(s1!.pools()[0]!.snapshot().open, 0, 'no pooled connection left to the DOWN server');
  t.match(s1!.snapshot().health, { operational: 'DOWN', lastReason: /fall|first/ });
  for (let i = 0; i < 6; i++) {
    const r = await get(h);
    t.equal(r.status, 200);
    t.equal(r.headers['x-server'], 's2', 'only s2 while s1 is DOWN');
  }
  const revived = await killed.up();
  await until(() => s1!.state === 'UP', 's1 UP again');
  t.ok(s1!.checker!.stats.connectFailures > 0, 'checks could not connect while it was gone');
  t.ok(revived.requests.filter((r) => r.url === '/health').length >= 2, 'rise: at least 2 good checks before UP');
  const seen = new Set<unknown>();
  for (let i = 0; i < 6; i++) seen.add((await get(h)).headers['x-server']);
  t.same([...seen].sort(), ['s1', 's2'], 'traffic is shared again');
  t.equal(s2!.state, 'UP');
});

t.test('a check that gets no answer within health.timeout fails and the connection is replaced', async (t) => {
  const h = await startHarness({ servers: 1, farm: { health: health({ path: '/slow/5000', timeout: 50, fall: 1 }) } });
  t.teardown(() => h.close());
  const s = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => s.state === 'DOWN', 'DOWN after a timed-out check');
  t.match(s.snapshot().health?.checks?.last, { result: 'fail', reason: /timed out after 50 ms/ });
  await until(() => s.checker!.stats.checks >= 3, '3 checks');
  const st = s.checker!.stats;
  t.equal(st.ok, 0, 'no check succeeded');
  t.ok(st.handshakesFull + st.handshakesResumed >= 2, 'a timed-out connection is not reused');
});

t.test('a wrong status fails the check and keeps the connection', async (t) => {
  const h = await startHarness({ servers: 1, farm: { health: health({ path: '/status/500' }) } });
  t.teardown(() => h.close());
  const s = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => s.checker!.stats.checks >= 5, '5 checks');
  t.equal(s.state, 'DOWN');
  t.match(s.snapshot().health?.checks?.last?.reason, /GET \/status\/500 answered 500, expected 200/);
  t.equal(s.checker!.stats.handshakesFull + s.checker!.stats.handshakesResumed, 1);
  const r = await get(h);
  t.equal(r.status, 503, 'no server usable');
});

t.test('gateway stop closes the check connection with FIN', async (t) => {
  const h = await startHarness({ servers: 1, farm: { health: health() } });
  const s = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => s.checker!.stats.checks >= 2, '2 checks');
  await h.gateway.stop();
  await until(() => h.servers[0]!.stats.openConnections === 0, 'server connections closed');
  t.ok(h.servers[0]!.stats.connectionClosedByClient >= 1, 'closed by the gateway');
  const checks = s.checker!.stats.checks;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(s.checker!.stats.checks, checks, 'no check after stop');
  await h.close();
});
