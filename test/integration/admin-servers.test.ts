import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { silentLogger } from '../../src/core/logger.js';
import { gatewayConfig, listenerConfig, farmConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

const TOKEN = 's3cret-admin-token';
const tokenFile = (content: string) => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-admin-')), 'token');
  writeFileSync(f, content, { mode: 0o600 });
  return f;
};

interface ServerView { name: string; state: string; admin: string; weight: number; backup: boolean; address: string }

async function api(h: Harness, method: string, p: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(`http://127.0.0.1:${h.gateway.admin!.port}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON (/health) */
  }
  return { status: res.status, headers: res.headers, json, text };
}

const get = (h: Harness) => oneShotRequest({ host: '127.0.0.1', port: h.port, path: '/hello', ca: h.pki.pki.ca.certPem, servername: 'localhost' });

async function countPicks(h: Harness, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(h);
    const s = String(r.headers['x-server']);
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

t.test('admin token: 401 without or with a wrong token; /health stays open', async (t) => {
  const h = await startHarness({ servers: 1, admin: { tokenFile: tokenFile(`${TOKEN}\n`) } });
  t.teardown(() => h.close());
  const none = await api(h, 'GET', '/servers', undefined, null);
  t.equal(none.status, 401);
  t.match(none.headers.get('www-authenticate'), /^Bearer realm="longhaul-admin"$/);
  t.match(none.json, { error: 'unauthorized', message: /Bearer/ });
  const wrong = await api(h, 'GET', '/servers', undefined, 'not-the-token');
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /error="invalid_token"/);
  t.equal((await api(h, 'GET', '/servers', undefined, `${TOKEN}x`)).status, 401, 'a longer token is wrong too');
  t.equal((await api(h, 'POST', '/servers/farm/s1', { state: 'maint' }, null)).status, 401);
  t.equal(h.gateway.farms.get('farm')!.servers[0]!.state, 'UP', 'an unauthorized POST changes nothing');
  t.equal((await api(h, 'GET', '/stats', undefined, null)).status, 401, '/stats is protected too');
  t.equal((await api(h, 'GET', '/stats')).status, 200);
  t.equal((await api(h, 'GET', '/health', undefined, null)).status, 200, '/health needs no token');
  const ok = await api(h, 'GET', '/servers');
  t.equal(ok.status, 200);
  const farms = ok.json.farms as Array<{ name: string; servers: ServerView[] }>;
  t.match(farms, [{ name: 'farm', servers: [{ name: 's1', state: 'UP', admin: 'ready', weight: 100, backup: false }] }]);
});

t.test('an empty token file refuses to start the gateway', async (t) => {
  const f = await pkiFiles();
  const cfg = {
    ...gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, [serverConfig('s1', 1)])]),
    admin: { bind: { host: '127.0.0.1', port: 0 }, tokenFile: tokenFile('\n') },
  };
  await t.rejects(Gateway.start(cfg, silentLogger), /admin.token-file .* is empty/);
});

t.test('errors: 404 unknown farm/server, 400 bad state/weight/body, 405; nothing changes', async (t) => {
  const h = await startHarness({ servers: 2, admin: {} });
  t.teardown(() => h.close());
  const s1 = h.gateway.farms.get('farm')!.servers[0]!;
  t.match(await api(h, 'POST', '/servers/nope/s1', { state: 'drain' }), { status: 404, json: { error: 'unknown_farm', message: 'no farm named "nope" (farms: farm)' } });
  t.match(await api(h, 'POST', '/servers/farm/s9', { state: 'drain' }), { status: 404, json: { error: 'unknown_server', message: 'no server named "s9" in farm "farm" (servers: s1, s2)' } });
  t.match(await api(h, 'GET', '/servers/farm/s9'), { status: 404, json: { error: 'unknown_server' } });
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'down' }), { status: 400, json: { error: 'bad_state', message: 'state must be one of: ready, drain, maint; got "down"' } });
  for (const weight of [-1, 257, 1.5, '10', null]) {
    t.match(await api(h, 'POST', '/servers/farm/s1', { weight }), { status: 400, json: { error: 'bad_weight', message: /weight must be an integer from 0 to 256/ } }, `weight ${JSON.stringify(weight)}`);
  }
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'drain', weight: 999 }), { status: 400, json: { error: 'bad_weight' } });
  t.match(await api(h, 'POST', '/servers/farm/s1', '{"state":'), { status: 400, json: { error: 'bad_json' } });
  t.match(await api(h, 'POST', '/servers/farm/s1', '[1]'), { status: 400, json: { error: 'bad_json' } });
  t.match(await api(h, 'POST', '/servers/farm/s1', {}), { status: 400, json: { error: 'bad_request', message: /nothing to change/ } });
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'drain', colour: 'red' }), { status: 400, json: { error: 'bad_request', message: /unknown field\(s\) colour/ } });
  t.match(await api(h, 'PUT', '/servers/farm/s1', { state: 'drain' }), { status: 405 });
  t.match(await api(h, 'GET', '/nope'), { status: 404, json: { error: 'not_found' } });
  t.equal(s1.state, 'UP', 'no failed request changed the state');
  t.equal(s1.weight, 100, 'no failed request changed the weight');
});

t.test('weight changes are honoured by the next picks (smooth weighted round robin)', async (t) => {
  const h = await startHarness({ servers: 2, admin: {}, farm: { balance: 'roundrobin' } });
  t.teardown(() => h.close());
  t.same(await countPicks(h, 8), { s1: 4, s2: 4 });
  const r = await api(h, 'POST', '/servers/farm/s2', { weight: 50 });
  t.match(r, { status: 200, json: { farm: 'farm', server: { name: 's2', weight: 50, state: 'UP' } } });
  t.same(await countPicks(h, 30), { s1: 20, s2: 10 }, '100:50 = 2:1');
  t.match(await api(h, 'POST', '/servers/farm/s2', { weight: 0 }), { status: 200, json: { server: { weight: 0 } } });
  t.same(await countPicks(h, 6), { s1: 6 }, 'weight 0 takes s2 out of rotation');
  t.match(await api(h, 'GET', '/servers/farm/s2'), { status: 200, json: { server: { weight: 0, state: 'UP' } } });
});

t.test('drain, maint and ready through the API: states, picks and idle connections', async (t) => {
  const h = await startHarness({ servers: 2, admin: {}, farm: { balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const [s1] = h.gateway.farms.get('farm')!.servers;
  await countPicks(h, 4);
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'drain' }), { status: 200, json: { server: { state: 'DRAIN', admin: 'drain' } } });
  t.same(await countPicks(h, 4), { s2: 4 }, 'no new request to a draining server');
  t.equal(s1!.pools()[0]!.snapshot().idle, 1, 'DRAIN keeps idle connections');
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'maint' }), { status: 200, json: { server: { state: 'MAINT', admin: 'maint' } } });
  t.equal(s1!.pools()[0]!.snapshot().idle, 0, 'MAINT closes idle connections');
  await until(() => h.servers[0]!.stats.openConnections === 0, 'the server sees them closed');
  t.ok(h.servers[0]!.stats.connectionClosedByClient >= 1, 'closed by the gateway (FIN), not by the server');
  t.same(await countPicks(h, 2), { s2: 2 });
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'ready' }), { status: 200, json: { server: { state: 'UP', admin: 'ready' } } });
  t.same(await countPicks(h, 4), { s1: 2, s2: 2 }, 'back in rotation');
  const list = await api(h, 'GET', '/servers');
  t.match(list.json, { farms: [{ servers: [{ name: 's1', state: 'UP', reason: null }, { name: 's2' }] }] });
});

t.test('MAINT: in-flight requests finish, their connections close after, min-idle does not re-warm; ready re-warms', async (t) => {
  const h = await startHarness({ servers: 1, admin: {}, pool: { minIdle: 2 } });
  t.teardown(() => h.close());
  const s1 = h.gateway.farms.get('farm')!.servers[0]!;
  const farmServer = h.servers[0]!;
  await until(() => s1.pools()[0]!.snapshot().idle === 2, 'min-idle 2 warmed');
  const slow = oneShotRequest({ host: '127.0.0.1', port: h.port, path: '/slow/400', ca: h.pki.pki.ca.certPem, servername: 'localhost' });
  await until(() => farmServer.requests.length === 1, 'slow request on the server');
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'maint' }), { status: 200, json: { server: { state: 'MAINT', active: 1 } } });
  const handshakesAtMaint = farmServer.stats.handshakes;
  t.equal((await slow).status, 200, 'the in-flight request finished');
  await until(() => farmServer.stats.openConnections === 0, 'every connection closed, the busy one after its exchange');
  t.same(s1.pools()[0]!.snapshot(), { ...s1.pools()[0]!.snapshot(), open: 0, idle: 0, busy: 0 });
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(farmServer.stats.handshakes, handshakesAtMaint, 'no min-idle re-warm while in MAINT');
  t.match(await api(h, 'POST', '/servers/farm/s1', { state: 'ready' }), { status: 200, json: { server: { state: 'UP' } } });
  await until(() => s1.pools()[0]!.snapshot().idle === 2, 'min-idle warmed again after ready');
});
