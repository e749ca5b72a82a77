/**
 * tls.sni-certs on both engines: the certificate is chosen by SNI (exact name, `*.x`, default
 * otherwise), and Gateway.reloadCertificates() (SIGHUP) serves new files to new connections
 * while an open keep-alive connection goes on being served.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { buildCertificate, generateKeyPem } from '../../src/certs/certificate-builder.js';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-sni-'));

async function leaf(name: string, cn: string, dns: string[], ip: string[] = []): Promise<{ cert: string; key: string }> {
  const f = await pkiFiles();
  const key = await generateKeyPem('ec');
  const pem = buildCertificate({ commonName: cn, subjectKeyPem: key, issuer: { certPem: f.pki.ca.certPem, keyPem: f.pki.ca.keyPem }, days: 90, ca: false, dns, ip });
  const p = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  writeFileSync(p.cert, pem);
  writeFileSync(p.key, key);
  return p;
}

interface Answer { status: number; cn: string; reused: boolean }

function get(port: number, servername: string | undefined, agent?: https.Agent): Promise<Answer> {
  return pkiFiles().then((f) => new Promise<Answer>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername, agent: agent ?? false, checkServerIdentity: () => undefined }, (res) => {
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN);
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cn, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  }));
}

for (const engine of ['uws', 'node'] as const) {
  t.test(`${engine}: certificate by SNI, reload keeps open connections`, async (t) => {
    const f = await pkiFiles();
    const def = await leaf(`def-${engine}`, 'default-1', ['localhost'], ['127.0.0.1']);
    const a = await leaf(`a-${engine}`, 'a-1', ['a.branch.test']);
    const b = await leaf(`b-${engine}`, 'b-1', ['*.b.test']);
    const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
    const l = listenerConfig('farm', def.cert, def.key, { engine, tls: { cert: def.cert, key: def.key, sniCerts: [{ cert: a.cert, key: a.key, names: ['a.branch.test', 'alias.test'] }, { cert: b.cert, key: b.key, names: null }] } });
    const gw = await Gateway.start(gatewayConfig([l], [farmConfig('farm', f.caFile, [serverConfig('s1', s.port)])]), silentLogger);
    t.teardown(async () => {
      await gw.stop();
      await s.close();
    });
    const port = gw.listeners[0]!.port;

    t.match(await get(port, 'a.branch.test'), { status: 200, cn: 'a-1' }, 'exact name');
    t.match(await get(port, 'alias.test'), { status: 200, cn: 'a-1' }, 'second explicit name');
    t.match(await get(port, 'x.b.test'), { status: 200, cn: 'b-1' }, 'wildcard from the SANs');
    t.match(await get(port, 'y.x.b.test'), { status: 200, cn: 'default-1' }, 'wildcard covers one label only');
    t.match(await get(port, 'unknown.test'), { status: 200, cn: 'default-1' }, 'unknown name: default');
    t.match(await get(port, undefined), { status: 200, cn: 'default-1' }, 'no SNI: default');
    const stats = gw.stats() as { certificates: Array<{ where: string }> };
    t.same(stats.certificates.map((c) => c.where), ['listeners[0].tls', 'listeners[0].tls.sni-certs[0]', 'listeners[0].tls.sni-certs[1]']);

    // An open keep-alive connection on a.branch.test across the reload.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    t.match(await get(port, 'a.branch.test', agent), { status: 200, cn: 'a-1', reused: false });

    const a2 = await leaf(`a2-${engine}`, 'a-2', ['a.branch.test']);
    const def2 = await leaf(`def2-${engine}`, 'default-2', ['localhost'], ['127.0.0.1']);
    copyFileSync(a2.cert, a.cert);
    copyFileSync(a2.key, a.key);
    copyFileSync(def2.cert, def.cert);
    copyFileSync(def2.key, def.key);
    gw.reloadCertificates();

    t.match(await get(port, 'a.branch.test', agent), { status: 200, cn: 'a-1', reused: true }, 'the open connection is still served after the reload');
    t.match(await get(port, 'a.branch.test'), { status: 200, cn: 'a-2' }, 'a new connection gets the new certificate');
    t.match(await get(port, 'x.b.test'), { status: 200, cn: 'b-1' }, 'unchanged entry still served');
    t.match(await get(port, 'localhost'), { status: 200, cn: 'default-2' }, 'the default certificate under one of its names: new');
    // uWS cannot replace the SSLApp's own context (src/front/uws-server-names.ts).
    t.match(await get(port, undefined), { status: 200, cn: engine === 'node' ? 'default-2' : 'default-1' }, 'no SNI');

    // A bad reload changes nothing.
    const other = await leaf(`other-${engine}`, 'other', ['a.branch.test']);
    copyFileSync(other.key, a.key);
    t.throws(() => gw.reloadCertificates(), { name: 'CertificateError', message: /sni-certs\[0\]: certificate .* and key .* do not match/ });
    t.match(await get(port, 'a.branch.test'), { status: 200, cn: 'a-2' }, 'still the last good certificate');
    t.match(await get(port, 'a.branch.test', agent), { status: 200, reused: true }, 'and the open connection still works');
  });
}
