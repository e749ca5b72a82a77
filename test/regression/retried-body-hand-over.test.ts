/**
 * Issue 11 item 1: when a retry started while the failed attempt still waited for the client's
 * next body chunk, ReplayBody let that attempt take the chunk and the retry then sent the next
 * one twice: same length, wrong bytes, and the client got 200. The case exactly: PUT,
 * chunked, 4 × 8 KiB parts 40 ms apart, the first server cuts the connection after the head,
 * replay-buffer 1 MiB; the second server must get the exact SHA-256, every time. Request
 * buffering is off in the first two cases (`request-buffer` 0) so the body streams and the
 * hand-over is exercised; the third runs the default (the body is buffered before the lease).
 */
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { startHashingServer } from '../helpers/hashing-server.js';
import { startMisbehavingServer } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

// HAND_OVER_ITERATIONS to hunt longer.
const ITERATIONS = Number(process.env.HAND_OVER_ITERATIONS ?? 15);
const PART = 8 * 1024;

function put(port: number, ca: string, parts: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'PUT', path: '/upload', ca, servername: 'localhost', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let i = 0;
    const next = (): void => {
      req.write(parts[i++]!);
      if (i < parts.length) setTimeout(next, 40);
      else req.end();
    };
    next();
  });
}

for (const [engine, requestBuffer] of [['node', 0], ['uws', 0], ['node', 64 * 1024]] as Array<[Engine, number]>) {
  t.test(`${engine}, request-buffer ${requestBuffer}: a retried PUT reaches the second server byte-exact`, async (t) => {
    const f = await pkiFiles();
    const cutter = await startMisbehavingServer(f.pki.farm.certPem, f.pki.farm.keyPem, 'close-after-request');
    const good = await startHashingServer(f.pki.farm.certPem, f.pki.farm.keyPem);
    t.teardown(() => Promise.all([cutter.close(), good.close()]));
    const farm = farmConfig('farm', f.caFile, [serverConfig('cutter', cutter.port), serverConfig('good', good.port)], {
      balance: 'first',
      replayBuffer: 1024 * 1024,
      requestBuffer,
    });
    const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })], [farm]), silentLogger);
    t.teardown(() => gw.stop());
    const port = gw.listeners[0]!.port;
    let exact = 0;
    let wrong = 0;
    let other = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const parts = [0, 1, 2, 3].map(() => randomBytes(PART));
      const sha = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
      const r = await put(port, f.pki.ca.certPem, parts);
      if (r.status !== 200) other++;
      else if (r.body === sha) exact++;
      else wrong++;
    }
    t.equal(wrong, 0, 'no retried body reached the server with a wrong SHA-256');
    t.equal(other, 0, 'no request failed');
    t.equal(exact, ITERATIONS, 'every PUT was answered with the SHA-256 of what the client sent');
    t.equal(cutter.requests, ITERATIONS, 'each PUT went to the cutting server first');
    t.equal(good.requests, ITERATIONS, 'and was retried once on the good one');
  });
}
