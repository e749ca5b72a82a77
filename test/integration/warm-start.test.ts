import net from 'node:net';
import t from 'tap';
import { Client } from 'undici';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { capturingLogger } from '../helpers/capturing-logger.js';

/**
 * Issue 5's cold start: the listeners open only once each farm has a warm connection (min-idle),
 * so the first client request rides it instead of paying TCP + TLS to the farm. A farm that
 * refuses or never answers delays the start by at most its connect timeout, with a warning.
 */


const pki = await pkiFiles();

async function farmServer(name: string): Promise<FarmServer> {
  return startFarmServer({ name, cert: pki.pki.farm.certPem, key: pki.pki.farm.keyPem });
}

async function get(port: number): Promise<{ status: number; connId: string }> {
  const c = new Client(`https://localhost:${port}`, { connect: { ca: pki.pki.ca.certPem, servername: 'localhost' } });
  try {
    const r = await c.request({ method: 'GET', path: '/hello', headers: { connection: 'close' } });
    await r.body.text();
    return { status: r.statusCode, connId: String(r.headers['x-conn-id']) };
  } finally {
    await c.close().catch(() => {});
  }
}

t.test('min-idle: the farm connection is open before the listener, the first request rides it', async (t) => {
  const s = await farmServer('s1');
  t.teardown(() => s.close());
  const cfg = gatewayConfig(
    [listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)],
    [farmConfig('farm', pki.caFile, [serverConfig('s1', s.port, {}, { minIdle: 1 })])],
  );
  const { log, lines } = capturingLogger('debug');
  const gw = await Gateway.start(cfg, log);
  t.teardown(() => gw.stop(0));
  t.equal(s.stats.handshakes, 1, 'one farm handshake happened before start() resolved');
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const r = await get(gw.listeners[0]!.port);
    t.equal(r.status, 200);
    ids.add(r.connId);
  }
  t.equal(s.stats.handshakes, 1, 'the first requests (Connection: close clients) paid no farm handshake');
  t.equal(ids.size, 1, 'they all rode the warm connection');
  t.ok(lines.some((l) => l.msg === 'farm warm' && l.farm === 'farm'), 'logged at debug');
  t.notOk(lines.some((l) => l.level === 40), 'no warning');
});

t.test('min-idle 0: nothing to wait for, the first request opens its connection', async (t) => {
  const s = await farmServer('s1');
  t.teardown(() => s.close());
  const cfg = gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)], [farmConfig('farm', pki.caFile, [serverConfig('s1', s.port)])]);
  const gw = await Gateway.start(cfg, capturingLogger('debug').log);
  t.teardown(() => gw.stop(0));
  t.equal(s.stats.handshakes, 0, 'no connection before the first request');
  t.equal((await get(gw.listeners[0]!.port)).status, 200);
  t.equal(s.stats.handshakes, 1);
});

t.test('one server refuses, the other is up: the gateway waits for the one that answers', async (t) => {
  const s = await farmServer('s2');
  t.teardown(() => s.close());
  const refused = await closedPort();
  const cfg = gatewayConfig(
    [listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)],
    [farmConfig('farm', pki.caFile, [serverConfig('s1', refused, {}, { minIdle: 1 }), serverConfig('s2', s.port, {}, { minIdle: 1 })])],
  );
  const { log, lines } = capturingLogger('debug');
  const gw = await Gateway.start(cfg, log);
  t.teardown(() => gw.stop(0));
  t.equal(s.stats.handshakes, 1, 's2 was warm before the listener opened');
  t.notOk(lines.some((l) => l.level === 40 && String(l.msg).includes('listening anyway')), 'no warning: the farm has a warm connection');
});

t.test('every server refuses: the gateway listens anyway, with a warning, and answers 503/502', async (t) => {
  const refused = await closedPort();
  const cfg = gatewayConfig(
    [listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)],
    [farmConfig('farm', pki.caFile, [serverConfig('s1', refused, {}, { minIdle: 1 })], { retries: 0 })],
  );
  const { log, lines } = capturingLogger('debug');
  const gw = await Gateway.start(cfg, log);
  t.teardown(() => gw.stop(0));
  t.ok(lines.some((l) => l.level === 40 && l.msg === 'could not open a warm connection to the farm: listening anyway' && l.farm === 'farm'), 'warned');
  const r = await get(gw.listeners[0]!.port);
  t.ok(r.status === 502 || r.status === 503, `clients get a gateway error (${r.status}), not a hang`);
});

t.test('a server that accepts TCP but never finishes TLS: the wait ends at the connect timeout', async (t) => {
  // Accepts and stays silent: the TLS handshake never completes.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((sock) => sockets.push(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as net.AddressInfo).port;
  const cfg = gatewayConfig(
    [listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)],
    [farmConfig('farm', pki.caFile, [serverConfig('s1', port, {}, { minIdle: 1 })], { timeouts: { connect: 300, server: 60_000, queue: 10_000 } })],
  );
  const { log, lines } = capturingLogger('debug');
  const gw = await Gateway.start(cfg, log);
  t.teardown(() => gw.stop(0));
  t.ok(
    lines.some((l) => l.level === 40 && String(l.msg).includes('listening anyway')),
    'warned that the farm had no warm connection',
  );
  t.ok(gw.listeners[0]!.port > 0, 'listening');
});

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
