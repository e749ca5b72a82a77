// Background 004: one primary, one backup. The primary dies under load: requests in flight and
// requests sent before the checks noticed are redispatched to the backup (no 502/503), later
// ones go to the backup, and everything returns to the primary once it passes `rise` checks.
import t from 'tap';
import type { HealthConfig } from '../../src/config/config-types.js';
import { oneShotRequest, type OneShotResult } from '../../src/demo/one-shot-client.js';
import { killServer, startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// inter is long on purpose: the window between the kill and the next check is where redispatch
// (not health checking) must save the requests. downinter/fastinter are short so recovery is quick.
const health: HealthConfig = {
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 3000, fastinter: 20, downinter: 20, rise: 2, fall: 2, disableOn404: false,
  timeout: 1000, observe: 'none', errorLimit: 10,
};

const get = (h: Harness, path: string): Promise<OneShotResult> =>
  oneShotRequest({ host: '127.0.0.1', port: h.port, path, ca: h.pki.pki.ca.certPem, servername: 'localhost' });

for (const balance of ['roundrobin', 'leastconn'] as const) {
  t.test(`${balance}: primary killed mid-load → backup, then back to the primary`, async (t) => {
    const h = await startHarness({ servers: 2, serverOver: [{}, { backup: true }], farm: { health, balance } });
    t.teardown(() => h.close());
    const [primary, backup] = h.gateway.farms.get('farm')!.servers;
    const results: OneShotResult[] = [];
    const bad = () => results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`);
    await until(() => primary!.checker!.stats.ok >= 1, 'first check');

    for (let i = 0; i < 5; i++) results.push(await get(h, '/hello'));
    t.same(new Set(results.map((r) => r.headers['x-server'])), new Set(['s1']), 'backup idle while the primary is UP');

    // In flight on the primary when it dies.
    const slowSeen = () => h.servers[0]!.requests.filter((r) => r.url === '/slow/2000').length;
    const inFlight = Array.from({ length: 4 }, () => get(h, '/slow/2000'));
    await until(() => slowSeen() === 4, 'primary received the 4 slow requests');
    const killed = await killServer(h, 0);
    const flown = await Promise.all(inFlight);
    results.push(...flown);
    t.same(flown.map((r) => [r.status, r.headers['x-server']]), Array(4).fill([200, 's2']), 'in-flight requests redispatched to the backup');

    // Sent after the kill, before the checks noticed: primary still UP, connect refused, redispatched.
    t.equal(primary!.state, 'UP', 'checks have not noticed yet (inter is long)');
    const window: OneShotResult[] = [];
    for (let i = 0; i < 5; i++) window.push(await get(h, '/hello'));
    results.push(...window);
    t.same(window.map((r) => [r.status, r.headers['x-server']]), Array(5).fill([200, 's2']), 'window requests served by the backup');
    t.ok((primary!.counters.errors['LH_CONNECT_FAILED'] ?? 0) >= 1, 'the primary refused connections');
    t.ok(backup!.counters.retries >= 5, 'they were retries (redispatched)');

    await until(() => primary!.state === 'DOWN', 'primary DOWN', 400);
    const down: OneShotResult[] = [];
    for (let i = 0; i < 5; i++) down.push(await get(h, '/hello'));
    results.push(...down);
    t.same(down.map((r) => r.headers['x-server']), Array(5).fill('s2'), 'the backup serves while the primary is DOWN');
    const errorsWhileDown = primary!.counters.errors['LH_CONNECT_FAILED'] ?? 0;

    const revived = await killed.up();
    await until(() => primary!.state === 'UP', 'primary UP after rise checks', 400);
    t.ok(revived.requests.filter((r) => r.url === '/health').length >= health.rise, `${health.rise} good checks first`);
    t.equal(primary!.counters.errors['LH_CONNECT_FAILED'] ?? 0, errorsWhileDown, 'no client request was tried on the DOWN primary');
    const backupBefore = h.servers[1]!.stats.requests;
    const back: OneShotResult[] = [];
    for (let i = 0; i < 5; i++) back.push(await get(h, '/hello'));
    results.push(...back);
    t.same(back.map((r) => r.headers['x-server']), Array(5).fill('s1'), 'all traffic back on the primary');
    t.equal(h.servers[1]!.stats.requests, backupBefore, 'the backup gets nothing once the primary is back');
    t.same(bad(), [], `no client error in ${results.length} requests`);
  });
}
