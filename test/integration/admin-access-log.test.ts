/**
 * Access lines (issue 12 item 7): request id (the client's when sane, generated otherwise; the
 * server gets the same one), Host, client port, TLS version, bytes in/out, Tw/Tc/Tr/Ta,
 * termination state, and `conn` new / warm / reused counted against what the pool did.
 */
import t from 'tap';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, poolConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { duplicateKeys, rawLineLogger } from '../helpers/raw-log.js';
import { startRecordingBackend } from '../helpers/recording-backend.js';
import { until } from '../helpers/until.js';

async function start(minIdle: number) {
  const f = await pkiFiles();
  const backend = await startRecordingBackend(f.pki.farm.certPem, f.pki.farm.keyPem);
  const { log, lines } = rawLineLogger();
  const pool = poolConfig({ maxConn: 2, minIdle });
  const cfg = { ...gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, [serverConfig('rec', backend.port, {}, pool)], { pool })]), log: { level: 'info' as const, access: true } };
  const gw = await Gateway.start(cfg, log);
  const send = (o: { headers?: Record<string, string>; method?: string; body?: Buffer } = {}) =>
    oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost', ...o });
  const access = () => lines.filter((l) => l.includes('"msg":"access"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { gw, backend, send, access, lines, close: async () => { await gw.stop(); await backend.close(); } };
}

const headerOf = (raw: string[], name: string): string[] => raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]!] : []));

t.test('access line fields; request id forwarded', async (t) => {
  const g = await start(0);
  t.teardown(() => g.close());
  const body = Buffer.alloc(1000, 'x');
  t.equal((await g.send({ headers: { 'x-request-id': 'client-id-42' } })).status, 200);
  t.equal((await g.send({ headers: { 'x-request-id': 'bad id with spaces "quoted"' } })).status, 200);
  t.equal((await g.send({ method: 'POST', body })).status, 200);
  await until(() => g.access().length === 3, 'three access lines');
  const [a, b, c] = g.access() as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  const got = g.backend.requests.map((r) => headerOf(r.rawHeaders, 'x-request-id'));
  t.same(got[0], ['client-id-42'], 'a sane client id is forwarded as is');
  t.equal(a.rid, 'client-id-42');
  t.match(String(b.rid), /^[0-9a-f-]{36}$/, 'an insane one is replaced by a generated id');
  t.same(got[1], [b.rid], 'and the server gets the same one, once');
  t.match(String(c.rid), /^[0-9a-f-]{36}$/, 'none sent: generated');
  t.same(got[2], [c.rid]);
  t.not(b.rid, c.rid);
  for (const l of [a, b, c]) {
    t.equal(l.host, `127.0.0.1:${g.gw.listeners[0]!.port}`, 'Host as the client sent it');
    t.equal(l.tls, 'TLSv1.3');
    t.type(l.client_port, 'number');
    t.equal(l.client, '127.0.0.1');
    t.equal(l.term, '--', 'normal end');
    for (const k of ['Tw', 'Tc', 'Tr', 'Ta']) t.type(l[k], 'number', k);
    t.ok((l.bytes_out as number) > 0);
  }
  t.equal(c.bytes_in, 1000, 'request body bytes counted');
  t.equal(a.bytes_in, 0);
  t.equal(a.conn, 'new', 'first request opened the connection (minIdle 0)');
  t.equal(b.conn, 'reused');
  t.equal(g.backend.connectionCount(), 1);
  for (const l of g.lines) t.same(duplicateKeys(l), [], 'no duplicate keys');
});

t.test('conn: warm for the first use of a pre-opened min-idle connection, then reused', async (t) => {
  const g = await start(1);
  t.teardown(() => g.close());
  t.equal(g.backend.connectionCount(), 1, 'warm-up opened one connection before the listener accepted');
  t.equal((await g.send()).status, 200);
  t.equal((await g.send()).status, 200);
  await until(() => g.access().length === 2, 'two access lines');
  t.same(g.access().map((l) => l.conn), ['warm', 'reused']);
  t.equal(g.backend.connectionCount(), 1, 'no handshake was paid by either request');
});

t.test('termination state: no usable server = PC (proxy, connect phase)', async (t) => {
  const g = await start(0);
  t.teardown(() => g.close());
  for (const s of g.gw.farms.get('farm')!.servers) s.setAdminState('maint', 'test');
  t.equal((await g.send()).status, 503);
  await until(() => g.access().length === 1, 'one access line');
  const l = g.access()[0]!;
  t.equal(l.term, 'PC');
  t.equal(l.error, 'LH_NO_SERVER');
  t.equal(l.conn, null, 'no connection used');
});
