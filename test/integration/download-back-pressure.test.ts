/**
 * Issue 11 item 10 (downloads): memory per exchange stays bounded when the client reads slower
 * than the server sends. A 64 MiB response to a client that stops reading: the server must be
 * paused too (through the gateway's response back-pressure), so what it managed to write while
 * the client read nothing is bounded by socket buffers plus the gateway's own, far below the
 * response; then the client reads it all, byte count exact. Counted, not timed: the server's
 * accepted bytes are polled until they stop growing.
 */
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const BOUND = 24 * 1024 * 1024;

for (const engine of ['node', 'uws'] as Engine[]) {
  t.test(`${engine}: a client that stops reading pauses the server`, async (t) => {
    const f = await pkiFiles();
    const sockets = new Set<Socket>();
    let written = 0;
    const server = tls.createServer({ cert: f.pki.farm.certPem, key: f.pki.farm.keyPem }, (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.once('data', () => {
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
        const chunk = Buffer.alloc(CHUNK, 'd');
        const pump = (): void => {
          while (written < TOTAL) {
            written += CHUNK;
            if (!s.write(chunk)) return void s.once('drain', pump);
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
    const gw = await Gateway.start(
      gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })], [farmConfig('farm', f.caFile, [serverConfig('s1', (server.address() as AddressInfo).port)])]),
      silentLogger,
    );
    t.teardown(() => gw.stop());
    const client = tls.connect({ host: '127.0.0.1', port: gw.listeners[0]!.port, ca: f.pki.ca.certPem, servername: 'localhost' });
    client.on('error', () => {});
    t.teardown(() => client.destroy());
    await new Promise<void>((r) => client.once('secureConnect', () => r()));
    client.pause();
    client.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
    // Poll (bounded) until the server's accepted bytes stop growing for 10 polls in a row.
    let last = -1;
    let stable = 0;
    for (let i = 0; i < 400 && stable < 10 && written < TOTAL; i++) {
      await new Promise((r) => setTimeout(r, 25));
      if (written === last) stable++;
      else stable = 0;
      last = written;
    }
    t.ok(written > 0, 'the server started');
    t.ok(written <= BOUND, `the server could write ${written} bytes while the client read nothing (bound ${BOUND} of ${TOTAL})`);
    let got = 0;
    client.on('data', (d: Buffer) => (got += d.length));
    client.resume();
    for (let i = 0; i < 2000 && got < TOTAL; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(got >= TOTAL, 'then the client got the whole response');
  });
}
