import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createCa, generateTestPki, issueLeaf, writeDevCerts, type CertKeyPair } from '../../../src/certs/dev-certs.js';

/** Completes one TLS handshake against a server using `leaf`; resolves the client's verdict. */
async function handshake(
  leaf: CertKeyPair,
  client: { ca?: string; host: string; servername?: string },
): Promise<{ authorized: boolean; error: string | null }> {
  const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, client.host, r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: client.host, port, ca: client.ca, servername: client.servername }, () => {
        resolve({ authorized: socket.authorized, error: null });
        socket.destroy();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ authorized: false, error: err.code ?? err.message }));
    });
  } finally {
    server.close();
  }
}

t.test('a leaf verifies against its CA over node:tls, by name and by IP', async (t) => {
  const ca = await createCa({ commonName: 'unit CA' });
  const leaf = await issueLeaf(ca, { commonName: 'localhost', dns: ['localhost', 'svc.test'], ip: ['127.0.0.1', '::1'] });

  t.same(await handshake(leaf, { ca: ca.certPem, host: '127.0.0.1', servername: 'localhost' }), { authorized: true, error: null });
  t.same(await handshake(leaf, { ca: ca.certPem, host: '127.0.0.1', servername: 'svc.test' }), { authorized: true, error: null });
  t.same(await handshake(leaf, { ca: ca.certPem, host: '127.0.0.1' }), { authorized: true, error: null }, 'IP SAN');

  const wrongName = await handshake(leaf, { ca: ca.certPem, host: '127.0.0.1', servername: 'other.test' });
  t.equal(wrongName.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
  const otherCa = await createCa({ commonName: 'other CA' });
  const untrusted = await handshake(leaf, { ca: otherCa.certPem, host: '127.0.0.1', servername: 'localhost' });
  t.equal(untrusted.authorized, false);
  t.not(untrusted.error, null);
});

t.test('certificate fields: CA flag, SANs, issuer, key match', async (t) => {
  const ca = await createCa({ commonName: 'fields CA', days: 10 });
  const leaf = await issueLeaf(ca, { commonName: 'svc', dns: ['svc.test'], ip: ['10.1.2.3', '::1'], days: 5 });
  const caX = new X509Certificate(ca.certPem);
  const leafX = new X509Certificate(leaf.certPem);

  t.equal(caX.ca, true);
  t.equal(leafX.ca, false);
  t.match(caX.subject, /CN=fields CA/);
  t.ok(leafX.checkIssued(caX));
  t.ok(leafX.verify(caX.publicKey));
  t.equal(leafX.subjectAltName, 'DNS:svc.test, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1');
  t.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  const days = (Date.parse(leafX.validTo) - Date.now()) / 86_400_000;
  t.ok(days > 4.9 && days <= 5, `leaf valid ${days} days`);
  t.not(caX.serialNumber, leafX.serialNumber);
});

t.test('ECDSA is refused: node-forge cannot build EC certificates', async (t) => {
  await t.rejects(createCa({ commonName: 'ec', keyType: 'ec' }), /not supported/);
  await t.rejects(issueLeaf(await createCa({ commonName: 'c' }), { commonName: 'x', dns: [], ip: ['not-an-ip'] }), /not an IP/);
});

t.test('generateTestPki: gateway and farm SANs, client leaf, one PKI per process', async (t) => {
  const pki = await generateTestPki();
  t.equal(await generateTestPki(), pki);
  t.equal(new X509Certificate(pki.gateway.certPem).subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  t.equal(
    new X509Certificate(pki.farm.certPem).subjectAltName,
    'DNS:localhost, DNS:farm.test, DNS:a.test, DNS:b.test, IP Address:127.0.0.1',
  );
  const caX = new X509Certificate(pki.ca.certPem);
  for (const leaf of [pki.gateway, pki.farm, pki.client]) t.ok(new X509Certificate(leaf.certPem).checkIssued(caX));
  t.match(new X509Certificate(pki.client.certPem).subject, /CN=longhaul-test-client/);
  t.same(await handshake(pki.farm, { ca: pki.ca.certPem, host: '127.0.0.1', servername: 'b.test' }), { authorized: true, error: null });
});

t.test('writeDevCerts: absolute paths, 0600 keys, idempotent, reissues only what is invalid', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'longhaul-devcerts-'));
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true })));
  const rel = path.relative(process.cwd(), path.join(dir, 'certs'));

  const p = await writeDevCerts(rel, { dns: ['localhost'], ip: ['127.0.0.1'] });
  for (const file of Object.values(p)) t.ok(path.isAbsolute(file), file);
  t.equal(path.basename(p.cert), 'gateway.crt');
  t.equal((await stat(p.caKey)).mode & 0o777, 0o600);
  t.equal((await stat(p.key)).mode & 0o777, 0o600);
  const read = async () => Promise.all([p.caCert, p.caKey, p.cert, p.key].map((f) => readFile(f, 'utf8')));
  const first = await read();
  const leafX = new X509Certificate(first[2]!);
  t.ok(leafX.checkIssued(new X509Certificate(first[0]!)));
  t.equal(leafX.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');

  await writeDevCerts(rel, { dns: ['localhost'], ip: ['127.0.0.1'] });
  t.same(await read(), first, 'second call reuses every file');

  await writeDevCerts(rel, { dns: ['localhost', 'gw.test'], ip: ['127.0.0.1'] });
  const widened = await read();
  t.equal(widened[0], first[0], 'CA kept');
  t.equal(widened[1], first[1], 'CA key kept');
  t.not(widened[2], first[2], 'leaf reissued for the new SAN');
  t.equal(new X509Certificate(widened[2]!).subjectAltName, 'DNS:localhost, DNS:gw.test, IP Address:127.0.0.1');

  await writeFile(p.caKey, (await createCa({ commonName: 'stray' })).keyPem);
  await writeDevCerts(rel, { dns: ['localhost', 'gw.test'], ip: ['127.0.0.1'] });
  const replaced = await read();
  t.not(replaced[0], first[0], 'CA whose key does not match is replaced');
  t.not(replaced[2], widened[2], 'new CA forces a new leaf');
  t.ok(new X509Certificate(replaced[2]!).checkIssued(new X509Certificate(replaced[0]!)));
  t.equal((await stat(p.caKey)).mode & 0o777, 0o600);
});
