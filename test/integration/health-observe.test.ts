// Passive health (`observe`): consecutive errors on live traffic take a server DOWN before the
// (slow) active checks would; the checks bring it back.
import t from 'tap';
import type { HealthConfig } from '../../src/config/config-types.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { killServer, startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// inter is long: only observe can take a server down within these tests.
const health = (over: Partial<HealthConfig>): HealthConfig => ({
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 5000, fastinter: 20, downinter: 20, rise: 1, fall: 3, disableOn404: false,
  timeout: 1000, observe: 'layer7', errorLimit: 3, ...over,
});

const get = (h: Harness, path: string) =>
  oneShotRequest({ host: '127.0.0.1', port: h.port, path, ca: h.pki.pki.ca.certPem, servername: 'localhost' });

t.test('layer7: error-limit consecutive 5xx answers take the server DOWN; a check brings it back', async (t) => {
  const h = await startHarness({ servers: 1, farm: { health: health({ downinter: 300 }) } });
  t.teardown(() => h.close());
  const s = h.gateway.farms.get('farm')!.servers[0]!;
  await until(() => s.checker!.stats.ok >= 1, 'first check');
  const statuses: number[] = [];
  for (const p of ['/status/502', '/status/502', '/hello', '/status/500', '/status/501', '/status/503', '/status/500']) {
    statuses.push((await get(h, p)).status);
    await until(() => s.counters.requests === statuses.length && Object.values(s.counters.responses).reduce((a, b) => a + b, 0) === statuses.length, 'answer counted');
  }
  t.same(statuses, [502, 502, 200, 500, 501, 503, 500], 'answers passed through');
  t.equal(s.state, 'UP', 'a 200 and a 501 (not a server fault, like HAProxy) reset the count');
  t.equal(s.snapshot().health?.observedErrors, 2, '503 and 500 counted');
  t.equal((await get(h, '/status/504')).status, 504);
  // The client may have the answer a moment before the forwarder counts it.
  await until(() => s.state === 'DOWN', 'DOWN after 3 consecutive: 503, 500, 504');
  t.match(s.snapshot().health?.lastReason, /3 consecutive errors on live traffic \(observe layer7, error-limit\): status 504/);
  t.equal(s.checker!.stats.failed, 0, 'no check failed: observe did it');
  t.equal((await get(h, '/hello')).status, 503, 'no server while DOWN');
  await until(() => s.state === 'UP', 'a good check brings it back (rise 1)', 400);
  t.equal((await get(h, '/hello')).status, 200);
});

t.test('layer4: refused connections take a killed server DOWN before the checks notice; no client error', async (t) => {
  const h = await startHarness({ servers: 2, farm: { health: health({ observe: 'layer4', errorLimit: 2 }), balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const [s1] = h.gateway.farms.get('farm')!.servers;
  await until(() => s1!.checker!.stats.ok >= 1, 'first check');
  await killServer(h, 0);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await get(h, '/hello')).status);
  t.same(statuses, Array(8).fill(200), 'redispatched to s2');
  t.equal(s1!.state, 'DOWN');
  t.equal(s1!.counters.errors['LH_CONNECT_FAILED'], 2, 'exactly error-limit failed attempts, then no more');
  t.match(s1!.snapshot().health?.lastReason, /2 consecutive errors on live traffic \(observe layer4, error-limit\): LH_CONNECT_FAILED/, 'observe did it, not the checks');
});

t.test('observe none: the same failures leave the server UP until the checks decide', async (t) => {
  const h = await startHarness({ servers: 2, farm: { health: health({ observe: 'none', errorLimit: 1 }), balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const [s1] = h.gateway.farms.get('farm')!.servers;
  await until(() => s1!.checker!.stats.ok >= 1, 'first check');
  await killServer(h, 0);
  for (let i = 0; i < 4; i++) t.equal((await get(h, '/hello')).status, 200);
  t.equal(s1!.state, 'UP');
  t.ok((s1!.counters.errors['LH_CONNECT_FAILED'] ?? 0) >= 2);
});
