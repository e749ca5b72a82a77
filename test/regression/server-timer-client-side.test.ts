/**
 * Issue 11 item 2: a client that stopped reading for longer than `timeouts.server` made the
 * server timer fire against the server (LH_SERVER_TIMEOUT counted on it, the response cut), and
 * so did a client sending its body slowly. `timeouts.server` now measures the server's silence
 * only while the gateway is ready to take its bytes and is not itself waiting for the client.
 * Counted: whole bodies (SHA-256) and the server's error counters.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { startHashingServer } from '../helpers/hashing-server.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

const SERVER_TIMEOUT = 300;
const timeouts = { connect: 5000, server: SERVER_TIMEOUT, queue: 10_000 };

for (const engine of ['node', 'uws'] as Engine[]) {
  t.test(`${engine}: a client that reads late is not a silent server`, async (t) => {
    const f = await pkiFiles();
    const server = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
    t.teardown(() => server.close());
    const gw = await Gateway.start(
      gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })], [farmConfig('farm', f.caFile, [serverConfig('s1', server.port)], { timeouts })]),
      silentLogger,
    );
    t.teardown(() => gw.stop());
    const size = 8 * 1024 * 1024;
    const r = await rawTlsRequest({ port: gw.listeners[0]!.port, ca: f.pki.ca.certPem, data: `GET /bytes/${size} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, pauseReadMs: 3 * SERVER_TIMEOUT, quietMs: 1000 });
    t.equal(r.responses[0]?.status, 200);
    t.equal(r.responses[0]?.body.length, size, 'the whole body arrived');
    t.same(gw.farms.get('farm')!.servers[0]!.counters.errors, {}, 'nothing counted against the server');
  });

  t.test(`${engine}: a client that sends its body slowly is not a silent server`, async (t) => {
    const f = await pkiFiles();
    const server = await startHashingServer(f.pki.farm.certPem, f.pki.farm.keyPem);
    t.teardown(() => server.close());
    const gw = await Gateway.start(
      gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })], [farmConfig('farm', f.caFile, [serverConfig('s1', server.port)], { timeouts, requestBuffer: 0 })]),
      silentLogger,
    );
    t.teardown(() => gw.stop());
    const parts = [0, 1, 2, 3].map((i) => Buffer.alloc(8 * 1024, 65 + i));
    const sha = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: gw.listeners[0]!.port, method: 'PUT', path: '/up', ca: f.pki.ca.certPem, servername: 'localhost', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      let i = 0;
      const next = (): void => {
        req.write(parts[i++]!);
        if (i < parts.length) setTimeout(next, 2 * SERVER_TIMEOUT);
        else req.end();
      };
      next();
    });
    t.equal(res.status, 200);
    t.equal(res.body, sha, 'the server got the exact body');
    t.same(gw.farms.get('farm')!.servers[0]!.counters.errors, {}, 'nothing counted against the server');
  });
}
