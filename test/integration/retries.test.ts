import t, { type Test } from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import type { ServerConfig } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { deadPort, startMisbehavingServer } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

async function gatewayFor(t: Tap, servers: ServerConfig[], farm: Parameters<typeof farmConfig>[3] = {}) {
  const f = await pkiFiles();
  const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, servers, { balance: 'roundrobin', ...farm })]), silentLogger);
  t.teardown(() => gw.stop());
  const send = (method = 'GET', path = '/hello', body?: Buffer) =>
    oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path, method, body, ca: f.pki.ca.certPem, servername: 'localhost' });
  return { gw, send, f };
}
type Tap = Test;

async function goodServer(t: Tap, name: string): Promise<FarmServer> {
  const f = await pkiFiles();
  const s = await startFarmServer({ name, cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => s.close());
  return s;
}

t.test('connect failures are retried on another server (redispatch)', async (t) => {
  const good = await goodServer(t, 'good');
  const { send, gw } = await gatewayFor(t, [serverConfig('dead', await deadPort()), serverConfig('good', good.port)]);
  let ok = 0;
  for (let i = 0; i < 20; i++) if ((await send('POST', '/echo', Buffer.from(`n${i}`))).status === 200) ok++;
  t.equal(ok, 20, 'every request succeeded, POSTs included (nothing was written to the dead server)');
  const dead = gw.farms.get('farm')!.servers[0]!;
  t.ok((dead.counters.errors.LH_CONNECT_FAILED ?? 0) >= 1, 'connect failures were counted on the dead server');
});

t.test('a server that closes after reading the request: GET is retried elsewhere, POST is never replayed', async (t) => {
  const f = await pkiFiles();
  const bad = await startMisbehavingServer(f.pki.farm.certPem, f.pki.farm.keyPem, 'close-after-request');
  t.teardown(() => bad.close());
  const good = await goodServer(t, 'good');
  const { send } = await gatewayFor(t, [serverConfig('bad', bad.port), serverConfig('good', good.port)]);

  let getOk = 0;
  for (let i = 0; i < 10; i++) if ((await send('GET', '/hello')).status === 200) getOk++;
  t.equal(getOk, 10, 'every GET succeeded');

  const before = bad.requests;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await send('POST', '/echo', Buffer.from(`post-${i}`))).status);
  const landedOnBad = bad.requests - before;
  const posts = good.requests.filter((r) => r.method === 'POST').map((r) => r.url);
  t.equal(statuses.filter((s) => s === 502).length, landedOnBad, 'each POST the bad server swallowed got a 502');
  t.equal(statuses.filter((s) => s === 200).length, 10 - landedOnBad, 'the others succeeded');
  t.equal(posts.length, 10 - landedOnBad, 'no POST was replayed to the good server');
  t.ok(landedOnBad > 0, 'round robin sent some POSTs to the bad server');
});

t.test('a server that answers garbage gets 502 with a clear code, and the client connection is fine', async (t) => {
  const f = await pkiFiles();
  const bad = await startMisbehavingServer(f.pki.farm.certPem, f.pki.farm.keyPem, 'garbage');
  t.teardown(() => bad.close());
  const { send } = await gatewayFor(t, [serverConfig('bad', bad.port)], { retries: 1 });
  const r = await send('POST', '/echo', Buffer.from('x'));
  t.equal(r.status, 502);
  t.match(String(r.headers['x-longhaul-error']), /^LH_/);
});
