import t, { type Test } from 'tap';
import type { FarmConfig, ServerConfig } from '../../src/config/config-types.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { startMisbehavingServer, type Misbehavior, type MisbehavingServer } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { capturingLogger } from '../helpers/capturing-logger.js';

type Tap = Test;


async function gatewayFor(t: Tap, servers: ServerConfig[], farm: Partial<FarmConfig>, log: Logger = silentLogger) {
  const f = await pkiFiles();
  const cfg = gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, servers, { balance: 'roundrobin', ...farm })]);
  const gw = await Gateway.start({ ...cfg, log: { level: 'info', access: true } }, log);
  t.teardown(() => gw.stop());
  const send = (method = 'GET', path = '/hello', body?: Buffer, headers?: Record<string, string>) =>
    oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path, method, body, ca: f.pki.ca.certPem, servername: 'localhost', ...(headers ? { headers } : {}) });
  return { gw, send };
}

async function good(t: Tap): Promise<FarmServer> {
  const f = await pkiFiles();
  const s = await startFarmServer({ name: 'good', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => s.close());
  return s;
}

async function bad(t: Tap, how: Misbehavior): Promise<MisbehavingServer> {
  const f = await pkiFiles();
  const s = await startMisbehavingServer(f.pki.farm.certPem, f.pki.farm.keyPem, how);
  t.teardown(() => s.close());
  return s;
}

t.test('retry-on 503: a GET is retried on another server, a POST never is (its 503 is forwarded)', async (t) => {
  const b = await bad(t, 'status-503');
  const g = await good(t);
  const { lines, log } = capturingLogger();
  const { send, gw } = await gatewayFor(t, [serverConfig('busy', b.port), serverConfig('good', g.port)], { retryOn: ['conn-failure', 'empty-response', '503'] }, log);

  const gets: number[] = [];
  for (let i = 0; i < 10; i++) gets.push((await send('GET', '/hello')).status);
  t.same(gets, Array(10).fill(200), 'every GET got 200');
  const getsOnBusy = b.methods.filter((m) => m === 'GET').length;
  t.ok(getsOnBusy >= 4, `round robin sent GETs to the 503 server (${getsOnBusy})`);
  const goodServer = gw.farms.get('farm')!.servers[1]!;
  t.equal(goodServer.counters.retries, getsOnBusy, 'each refused GET was retried once, counted on the server that took the retry');
  const retried = lines.filter((l) => l.msg === 'access' && l.retries === 1);
  t.equal(retried.length, getsOnBusy, 'the access log says retries: 1 for each of them');
  t.ok(b.connections <= 2, `the 503 responses were drained and their connections reused (${b.connections} connections)`);

  const posts: number[] = [];
  for (let i = 0; i < 10; i++) posts.push((await send('POST', '/echo', Buffer.from(`p${i}`))).status);
  const postsOnBusy = b.methods.filter((m) => m === 'POST').length;
  t.ok(postsOnBusy > 0, 'some POSTs went to the 503 server');
  t.equal(posts.filter((s) => s === 503).length, postsOnBusy, 'each of them got the server 503 as is');
  t.equal(g.requests.filter((r) => r.method === 'POST').length, 10 - postsOnBusy, 'no POST was replayed');

  const keyed: number[] = [];
  for (let i = 0; i < 6; i++) keyed.push((await send('POST', '/echo', Buffer.from(`k${i}`), { 'idempotency-key': `key-${i}` })).status);
  t.same(keyed, Array(6).fill(200), 'a POST with Idempotency-Key counts as idempotent and is retried');
});

t.test('retry-on 503 with retries exhausted: the last 503 is forwarded as is, not a 502', async (t) => {
  const b = await bad(t, 'status-503');
  const { send } = await gatewayFor(t, [serverConfig('busy', b.port)], { retries: 2, retryOn: ['503'] });
  const r = await send('GET', '/hello');
  t.equal(r.status, 503);
  t.equal(r.body.toString(), 'busy\n', "the server's own body");
  t.equal(r.headers['x-longhaul-error'], undefined, 'not a gateway error');
  t.equal(b.requests, 3, 'one attempt + 2 retries');
});

t.test('a 503 is forwarded when 503 is not in retry-on', async (t) => {
  const b = await bad(t, 'status-503');
  const { send } = await gatewayFor(t, [serverConfig('busy', b.port)], { retryOn: ['conn-failure', 'empty-response'] });
  t.equal((await send('GET', '/hello')).status, 503);
  t.equal(b.requests, 1, 'not retried');
});

t.test('empty-response governs retries of a connection closed after the request was written', async (t) => {
  const b = await bad(t, 'close-after-request');
  const g = await good(t);
  const without = await gatewayFor(t, [serverConfig('bad', b.port), serverConfig('good', g.port)], { retryOn: ['conn-failure'] });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await without.send('GET', '/hello')).status);
  t.equal(statuses.filter((s) => s === 502).length, b.requests, 'without empty-response: each GET the server swallowed got 502');
  t.ok(b.requests > 0);

  const before = b.requests;
  const withIt = await gatewayFor(t, [serverConfig('bad', b.port), serverConfig('good', g.port)], { retryOn: ['conn-failure', 'empty-response'] });
  const ok: number[] = [];
  for (let i = 0; i < 6; i++) ok.push((await withIt.send('GET', '/hello')).status);
  t.same(ok, Array(6).fill(200), 'with empty-response: every GET succeeded');
  t.ok(b.requests > before, 'the bad server did swallow some of them');
});

t.test('junk-response governs retries of a non-HTTP answer', async (t) => {
  const b = await bad(t, 'garbage');
  const g = await good(t);
  const withIt = await gatewayFor(t, [serverConfig('bad', b.port), serverConfig('good', g.port)], { retryOn: ['junk-response'] });
  const ok: number[] = [];
  for (let i = 0; i < 6; i++) ok.push((await withIt.send('GET', '/hello')).status);
  t.same(ok, Array(6).fill(200), 'with junk-response: every GET succeeded');
  const without = await gatewayFor(t, [serverConfig('bad', b.port), serverConfig('good', g.port)], { retryOn: ['conn-failure', 'empty-response'] });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await without.send('GET', '/hello')).status);
  t.ok(statuses.includes(502), 'without junk-response: a garbage answer is a 502');
});

t.test('response-timeout: a silent server is skipped when listed, 504 otherwise', async (t) => {
  const b = await bad(t, 'silent');
  const g = await good(t);
  const timeouts = { connect: 5000, server: 300, queue: 10_000 };
  const withIt = await gatewayFor(t, [serverConfig('silent', b.port), serverConfig('good', g.port)], { retryOn: ['response-timeout'], timeouts });
  const ok: number[] = [];
  for (let i = 0; i < 4; i++) ok.push((await withIt.send('GET', '/hello')).status);
  t.same(ok, Array(4).fill(200), 'with response-timeout: every GET succeeded');
  const without = await gatewayFor(t, [serverConfig('silent', b.port)], { retryOn: ['conn-failure', 'empty-response'], timeouts });
  const r = await without.send('GET', '/hello');
  t.equal(r.status, 504);
  const post = await withIt.send('POST', '/echo', Buffer.from('x'));
  const p2 = await withIt.send('POST', '/echo', Buffer.from('y'));
  t.ok([post.status, p2.status].includes(504), 'a POST that timed out is not retried even with response-timeout');
});

t.test('a 100 KiB PUT whose server dies before responding: replayed with replay-buffer 1 MiB, 502 with 64 KiB', async (t) => {
  const b = await bad(t, 'close-after-body');
  const g = await good(t);
  const body = Buffer.alloc(100 * 1024, 7);
  const { lines, log } = capturingLogger();
  const big = await gatewayFor(t, [serverConfig('dies', b.port), serverConfig('good', g.port)], { replayBuffer: 1024 * 1024 });
  const ok: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await big.send('PUT', '/echo', body);
    ok.push(r.status);
    t.equal(r.body.length, body.length, 'the whole body came back');
  }
  t.same(ok, Array(4).fill(200), 'every PUT succeeded');
  t.ok(b.requests >= 2, `the dying server got (and swallowed) some of them (${b.requests})`);

  const before = b.requests;
  const small = await gatewayFor(t, [serverConfig('dies', b.port), serverConfig('good', g.port)], { replayBuffer: 64 * 1024 }, log);
  const statuses: number[] = [];
  const errors: unknown[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await small.send('PUT', '/echo', body);
    statuses.push(r.status);
    if (r.status !== 200) errors.push(r.headers['x-longhaul-error']);
  }
  const swallowed = b.requests - before;
  t.ok(swallowed >= 2, 'the dying server got some of them');
  t.equal(statuses.filter((s) => s === 502).length, swallowed, 'each PUT the server swallowed got 502');
  t.same(errors, Array(swallowed).fill('LH_NOT_REPLAYED'), 'x-longhaul-error says it was not replayed');
  t.ok(
    lines.some((l) => l.level === 40 && /may have processed/.test(String(l.msg))),
    'a log line says the server may have processed it',
  );
});
