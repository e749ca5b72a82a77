// Background 002 (the soft stop): the server starts answering 404 to its health check; with
// disable-on-404 it gets no new requests, its in-flight ones complete, and it can then be
// restarted with zero client errors.
import t from 'tap';
import type { HealthConfig } from '../../src/config/config-types.js';
import { oneShotRequest, type OneShotResult } from '../../src/demo/one-shot-client.js';
import { killServer, startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

const health: HealthConfig = {
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 30, fastinter: 15, downinter: 30, rise: 2, fall: 2, disableOn404: true,
  timeout: 1000, observe: 'layer7', errorLimit: 3,
};

const get = (h: Harness, path: string): Promise<OneShotResult> =>
  oneShotRequest({ host: '127.0.0.1', port: h.port, path, ca: h.pki.pki.ca.certPem, servername: 'localhost' });

t.test('404 to the health check: DRAIN, in-flight completes, restart with zero client errors', async (t) => {
  const h = await startHarness({ servers: 2, farm: { health, balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const [s1, s2] = h.gateway.farms.get('farm')!.servers;
  const appRequests = (i: number) => h.servers[i]!.requests.filter((r) => r.url !== '/health').length;
  const results: OneShotResult[] = [];

  // Steady load from 3 clients until told to stop (bounded: at most 2000 requests).
  let stop = false;
  const load = Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let i = 0; i < 2000 && !stop; i++) results.push(await get(h, '/slow/5'));
    }),
  );
  await until(() => appRequests(0) >= 5 && appRequests(1) >= 5, 'load reaches both servers');

  // Long requests in flight on s1 when it announces its stop.
  const long = Array.from({ length: 4 }, () => get(h, '/slow/600'));
  const longOnS1 = () => h.servers[0]!.requests.filter((r) => r.url === '/slow/600').length;
  await until(() => longOnS1() >= 1 && longOnS1() + h.servers[1]!.requests.filter((r) => r.url === '/slow/600').length === 4, 'long requests arrived');
  h.servers[0]!.behavior.healthStatus = 404;
  await until(() => s1!.state === 'DRAIN', 's1 DRAIN');
  const activeAtDrain = s1!.active;
  const receivedAtDrain = appRequests(0);
  t.ok(activeAtDrain >= 1, `${activeAtDrain} request(s) in flight on s1 when it went DRAIN`);
  t.match(s1!.snapshot().health, { nolb: true, operational: 'UP', lastReason: /404/ });
  const longResults = await Promise.all(long);
  results.push(...longResults);
  t.same(longResults.map((r) => r.status), [200, 200, 200, 200], 'in-flight requests completed');
  await until(() => s1!.active === 0, 'nothing in flight on s1');
  t.ok(appRequests(0) - receivedAtDrain <= activeAtDrain, 'only requests dispatched before DRAIN reached s1 after it');
  const settled = appRequests(0);
  const s2Before = appRequests(1);
  await until(() => appRequests(1) >= s2Before + 20, '20 more requests on s2');
  t.equal(appRequests(0), settled, 'no new request reached the draining server');

  // The operator restarts the drained server (its idle pooled connections die with it).
  const killed = await killServer(h, 0);
  const s2Mid = appRequests(1);
  await until(() => appRequests(1) >= s2Mid + 10, 'load continues on s2 while s1 is down');
  await killed.up();
  await until(() => s1!.state === 'UP', 's1 UP again after restart', 400);
  await until(() => appRequests(0) >= 10, 'traffic back on the restarted s1');
  stop = true;
  await load;
  t.equal(s2!.state, 'UP');
  const errors = results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`);
  t.same(errors, [], `zero client errors in ${results.length} requests`);
  t.same(s1!.counters.errors, {}, 'no failed attempt on s1 at all');
});

t.test('without disable-on-404 a 404 is a failed check', async (t) => {
  const h = await startHarness({ servers: 2, farm: { health: { ...health, disableOn404: false } } });
  t.teardown(() => h.close());
  const s1 = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => s1.checker!.stats.ok >= 1, 'first check');
  h.servers[0]!.behavior.healthStatus = 404;
  await until(() => s1.state === 'DOWN', 'DOWN on 404 without disable-on-404');
  t.match(s1.snapshot().health?.checks?.last?.reason, /answered 404, expected 200/);
});
