/**
 * Issue 11 item 9: a client that sends its request head and then trickles the body held a
 * pooled backend connection for as long as it liked; 12 of them against `max-conn` 12 gave
 * normal clients 503. Now no connection is leased before `request-buffer` bytes (or the whole
 * body) arrived, and a body slower than `min-upload-rate` over a `timeouts.http-request` window
 * fails as a client fault (408 LH_CLIENT_SLOW_UPLOAD), never counted against a server.
 */
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { startHashingServer } from '../helpers/hashing-server.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { until } from '../helpers/until.js';

const TRICKLERS = 12;
const NORMAL = 24;
const BODY = 40;

interface Trickler {
  reply: () => string;
  closed: () => boolean;
  stop(): void;
}

/** Sends a PUT head with Content-Length BODY, then one body byte every `everyMs`. */
function trickler(port: number, ca: string, everyMs: number): Trickler {
  let reply = '';
  let closed = false;
  let sent = 0;
  const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  s.on('error', () => {});
  s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
  s.on('close', () => {
    closed = true;
    clearInterval(timer);
  });
  s.once('secureConnect', () => s.write(`PUT /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${BODY}\r\n\r\n`));
  const timer = setInterval(() => {
    if (sent >= BODY || closed) return clearInterval(timer);
    sent++;
    s.write('x');
  }, everyMs);
  return { reply: () => reply, closed: () => closed, stop: () => (clearInterval(timer), s.destroy()) };
}

async function setup(t: Tap, engine: Engine, httpRequest: number) {
  const f = await pkiFiles();
  const server = await startHashingServer(f.pki.farm.certPem, f.pki.farm.keyPem);
  t.teardown(() => server.close());
  const farm = farmConfig('farm', f.caFile, [serverConfig('s1', server.port, {}, { maxConn: 12 })], { timeouts: { connect: 5000, server: 60_000, queue: 1000 } });
  const gw = await Gateway.start(
    gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine, timeouts: { client: 30_000, httpRequest, httpKeepAlive: 10_000 } })], [farm]),
    silentLogger,
  );
  t.teardown(() => gw.stop());
  return { f, server, gw, port: gw.listeners[0]!.port };
}
type Tap = Test;

for (const engine of ['node', 'uws'] as Engine[]) {
  t.test(`${engine}: ${TRICKLERS} trickling uploaders against max-conn 12 do not starve normal clients`, async (t) => {
    const { f, gw, port } = await setup(t, engine, 30_000);
    const tricklers = Array.from({ length: TRICKLERS }, () => trickler(port, f.pki.ca.certPem, 500));
    t.teardown(() => tricklers.forEach((x) => x.stop()));
    await until(() => gw.listeners[0]!.stats().requests >= TRICKLERS, 'every trickler sent its head', 800, 25);
    const statuses = new Map<number, number>();
    for (let i = 0; i < NORMAL; i += 4) {
      const batch = await Promise.all(
        [0, 1, 2, 3].map(() => oneShotRequest({ host: '127.0.0.1', port, path: '/hello', method: 'GET', ca: f.pki.ca.certPem, servername: 'localhost' }).then((r) => r.status, () => 0)),
      );
      for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    t.same(Object.fromEntries(statuses), { 200: NORMAL }, 'every normal request got 200 (no 503)');
    const busy = gw.farms.get('farm')!.servers[0]!.pools().reduce((n, p) => n + p.snapshot().busy, 0);
    t.equal(busy, 0, 'no backend connection is held by a trickler');
  });

  t.test(`${engine}: a body slower than min-upload-rate is a client fault (408), never the server's`, async (t) => {
    const { f, gw, port, server } = await setup(t, engine, 400);
    const tricklers = Array.from({ length: 3 }, () => trickler(port, f.pki.ca.certPem, 300));
    t.teardown(() => tricklers.forEach((x) => x.stop()));
    await until(() => tricklers.every((x) => / 408 /.test(x.reply())), 'every trickler got its 408', 200, 25);
    for (const x of tricklers) t.match(x.reply(), /x-longhaul-error: LH_CLIENT_SLOW_UPLOAD/i);
    const s = gw.farms.get('farm')!.servers[0]!;
    t.same(s.counters.errors, {}, 'nothing counted against the server');
    t.equal(server.requests, 0, 'no request reached the server');
  });
}
