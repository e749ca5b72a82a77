import t from 'tap';
import https from 'node:https';
import type { HealthConfig } from '../../src/config/config-types.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Bug (issue 11 item 3): with `sni: host` every distinct Host created a pool per server that was
 * never removed and warmed forever with min-idle, and a TLS failure for a client-chosen name
 * counted against the server (two bogus Hosts took both servers DOWN with `observe layer4`).
 * Fixed: learned names' pools are bounded (tls.max-host-pools, LRU, evicted while idle), not
 * warmed unless tls.warm-host-pools, optionally limited to tls.sni-allow (421 otherwise, never
 * sent), and a refused name is LH_TLS_NAME_REFUSED, counted per pool key, not in server health.
 */

function get(h: Harness, name: string, path = '/hello'): Promise<{ status: number; error: string | undefined }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: h.port, path, agent: false, ca: h.pki.pki.ca.certPem, servername: 'localhost', headers: { host: name } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-longhaul-error'] as string | undefined }));
      })
      .on('error', reject);
  });
}

const server0 = (h: Harness) => h.gateway.farms.get('farm')!.servers[0]!;
const health = (over: Partial<HealthConfig>): HealthConfig => ({
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 60_000, fastinter: 60_000, downinter: 60_000, rise: 1, fall: 3, disableOn404: false,
  timeout: 1000, observe: 'layer4', errorLimit: 2, ...over,
});

t.test('names the server has no certificate for: 502 LH_TLS_NAME_REFUSED, counted per key, the server stays UP', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' } }, farm: { health: health({}) } });
  t.teardown(() => h.close());
  const bogus = [];
  for (const name of ['bogus1.test', 'bogus2.test', 'bogus1.test', 'bogus2.test', 'bogus3.test']) bogus.push(await get(h, name));
  t.strictSame(bogus.map((r) => `${r.status} ${r.error}`), Array(5).fill('502 LH_TLS_NAME_REFUSED'), 'five refusals');
  t.equal(server0(h).state, 'UP', 'server still UP (observe layer4, error-limit 2)');
  t.equal(server0(h).snapshot().health?.observedErrors ?? 0, 0, 'no observed error');
  // Pools left without a connection are dropped when a new name arrives: only bogus3's is left.
  const left = server0(h).snapshot().pools;
  t.strictSame(left.map((p) => [p.key.split(':')[2], p.counters.nameFailures]), [['bogus3.test', 1]], 'refusal counted on its pool key; empty learned pools evicted');
  t.equal(server0(h).snapshot().counters.errors['LH_TLS_NAME_REFUSED'], 5, 'five LH_TLS_NAME_REFUSED in the server errors (not retried elsewhere)');
  t.equal((await get(h, 'a.test')).status, 200, 'a real name is served');
});

t.test('tls.sni-allow: a Host outside the list is answered 421 locally and never sent', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' }, sniAllow: ['a.test', '*.test'] } });
  t.teardown(() => h.close());
  t.equal((await get(h, 'a.test')).status, 200, 'a.test allowed');
  t.equal((await get(h, 'b.test')).status, 200, 'b.test allowed by *.test');
  const refused = await get(h, 'x.y.example');
  t.strictSame(refused, { status: 421, error: 'LH_MISDIRECTED' }, 'x.y.example: 421 LH_MISDIRECTED');
  t.strictSame(await get(h, 'deep.b.test.example'), { status: 421, error: 'LH_MISDIRECTED' }, 'one label only for a wildcard');
  t.equal(h.servers[0]!.stats.handshakes, 2, 'handshakes: a.test and b.test only');
  t.equal(h.servers[0]!.stats.requests, 2, 'the refused requests never reached the server');
  t.equal(server0(h).pools().length, 2, 'no pool for the refused names');
  t.equal(server0(h).snapshot().counters.errors['LH_MISDIRECTED'] ?? 0, 0, 'nothing counted against the server');
});

t.test('tls.max-host-pools 2: at most 2 learned pools, least recently used evicted; learned pools do not warm', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' }, maxHostPools: 2 }, pool: { maxConn: 4, minIdle: 2 } });
  t.teardown(() => h.close());
  let peak = 0;
  const names = ['a.test', 'b.test', 'farm.test', 'localhost', 'a.test', 'b.test'];
  for (const name of names) {
    t.equal((await get(h, name)).status, 200, name);
    peak = Math.max(peak, server0(h).pools().length);
  }
  t.equal(peak, 2, 'never more than 2 pools');
  t.equal(server0(h).hostPoolsEvicted, 4, 'four evictions (LRU)');
  // Give a (wrong) warm-up the time to show: min-idle 2 would open a second connection per pool.
  await new Promise((r) => setTimeout(r, 200));
  t.equal(h.servers[0]!.stats.handshakes, 6, 'one handshake per request: min-idle 2 did not warm learned names');
  t.strictSame(server0(h).snapshot().pools.map((p) => p.open), [1, 1], 'each kept pool holds the one connection its request used');
  t.same(server0(h).pools().map((p) => p.key.split(':')[2]).sort(), ['a.test', 'b.test'], 'the two most recently used names are kept');
});
