/**
 * Chaos run (issue 11): undici asserted `assert(!this.paused)` (lib/dispatcher/client-h1.js
 * Parser.finish, from onHttpSocketEnd) as an uncaught exception. Cause: a close-delimited
 * response (HTTP/1.1, `Connection: close`, no Content-Length, not chunked) whose last bytes
 * arrive while the gateway has paused the parser for a slow client; the server's FIN then
 * finds the parser paused. exchange.ts resumes the parser on the server's FIN. Counted here:
 * the process did not throw, and each slow client got the whole body byte-exact.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

const BODY = Buffer.alloc(512 * 1024, 'z');
const SHA = createHash('sha256').update(BODY).digest('hex');
const ROUNDS = 6;

for (const engine of ['node', 'uws'] as Engine[]) {
  t.test(`${engine}: a close-delimited response to a client that reads late`, async (t) => {
    const f = await pkiFiles();
    const sockets = new Set<Socket>();
    const server = tls.createServer({ cert: f.pki.farm.certPem, key: f.pki.farm.keyPem }, (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\r\n');
        s.end(BODY);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
    const gw = await Gateway.start(
      gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })], [farmConfig('farm', f.caFile, [serverConfig('s1', (server.address() as AddressInfo).port)])]),
      silentLogger,
    );
    t.teardown(() => gw.stop());
    const thrown: unknown[] = [];
    const onUncaught = (err: unknown): void => void thrown.push(err);
    process.on('uncaughtException', onUncaught);
    t.teardown(() => void process.off('uncaughtException', onUncaught));
    let exact = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const r = await rawTlsRequest({ port: gw.listeners[0]!.port, ca: f.pki.ca.certPem, data: 'GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n', pauseReadMs: 300, quietMs: 600 });
      const res = r.responses[0];
      if (res && res.status === 200 && createHash('sha256').update(res.body).digest('hex') === SHA) exact++;
    }
    t.same(thrown.map((e) => String((e as Error).stack).split('\n').slice(0, 8).join(' | ')), [], 'nothing was thrown');
    t.equal(exact, ROUNDS, 'every client got the whole body');
  });
}
