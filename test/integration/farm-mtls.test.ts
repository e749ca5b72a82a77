/**
 * mTLS toward the farm: `farms[].tls.cert/key` are presented to servers that require a client
 * certificate (requestCert + rejectUnauthorized); the certificate is part of the pool key; a farm
 * without it gets no answer from such a server and the client gets a 5xx, not a hang.
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

async function setup(t: Test, withClientCert: boolean) {
  const f = await pkiFiles();
  const clientCert = path.join(f.dir, 'client.crt');
  const clientKey = path.join(f.dir, 'client.key');
  writeFileSync(clientCert, f.pki.client.certPem);
  writeFileSync(clientKey, f.pki.client.keyPem, { mode: 0o600 });
  const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem, ca: f.pki.ca.certPem, requireClientCert: true });
  const farm = farmConfig('farm', f.caFile, [serverConfig('s1', s.port, {}, { maxConn: 2 })], { retries: 1 });
  const cfg = gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [{ ...farm, tls: { ...farm.tls, cert: withClientCert ? clientCert : null, key: withClientCert ? clientKey : null } }]);
  const gw = await Gateway.start(cfg, silentLogger);
  t.teardown(async () => {
    await gw.stop();
    await s.close();
  });
  const request = () => oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
  return { f, s, gw, request };
}

t.test('the farm client certificate is presented and reused over pooled connections', async (t) => {
  const { f, s, gw, request } = await setup(t, true);
  for (let i = 0; i < 5; i++) t.equal((await request()).status, 200, `request ${i + 1}`);
  t.equal(s.stats.handshakeErrors, 0);
  t.ok(s.stats.perConnection.length >= 1 && s.stats.perConnection.every((c) => c.clientCert === 'longhaul-test-client'), 'every farm connection presented the client certificate');
  t.ok(s.stats.handshakes <= 2, `pooled: ${s.stats.handshakes} handshake(s) for 5 requests`);
  const keys = gw.farms.get('farm')!.servers[0]!.pools().map((p) => p.key);
  const fp = new X509Certificate(f.pki.client.certPem).fingerprint256;
  t.equal(keys.length, 1);
  t.ok(keys[0]!.includes(`cert=${fp}`), `the pool key carries the client certificate (${keys[0]})`);
});

t.test('without a client certificate the server refuses and the client gets 502/503', async (t) => {
  const { s, gw, request } = await setup(t, false);
  const r = await request();
  t.ok(r.status === 502 || r.status === 503, `status ${r.status}`);
  t.equal(s.stats.requests, 0, 'no request reached the server');
  t.ok(s.stats.handshakeErrors >= 1, 'the server saw a failed handshake');
  const errors = gw.farms.get('farm')!.servers[0]!.snapshot().counters.errors;
  t.ok(Object.keys(errors).length > 0, `the gateway counted the error: ${JSON.stringify(errors)}`);
  t.comment(`response body: ${r.body.toString().trim()}`);
});
