import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { generateTestPki } from '../../../src/certs/dev-certs.js';
import { buildCertificate, generateKeyPem, keyTypeOf, type KeyType } from '../../../src/certs/certificate-builder.js';
import { buildTruststore, readPkcs12Certificates } from '../../../src/certs/pkcs12-truststore.js';

const pairs: Array<[KeyType, KeyType]> = [['rsa', 'rsa'], ['ec', 'ec'], ['rsa', 'ec'], ['ec', 'rsa']];

t.test('a leaf issued by a node-forge CA (the test PKI) verifies with openssl', async (t) => {
  const pki = await generateTestPki();
  const key = await generateKeyPem('ec');
  const leaf = buildCertificate({ commonName: 'x', subjectKeyPem: key, issuer: { certPem: pki.ca.certPem, keyPem: pki.ca.keyPem }, days: 9, ca: false, dns: ['a.test'] });
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-builder-'));
  writeFileSync(path.join(dir, 'ca.pem'), pki.ca.certPem);
  writeFileSync(path.join(dir, 'leaf.pem'), leaf);
  t.match(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'leaf.pem')], { encoding: 'utf8' }), /: OK/);
});

for (const [caType, leafType] of pairs) {
  t.test(`${caType} CA issues a ${leafType} leaf that verifies, with the requested SANs`, async (t) => {
    const caKey = await generateKeyPem(caType);
    const caPem = buildCertificate({ commonName: 'test CA', subjectKeyPem: caKey, days: 30, ca: true });
    const leafKey = await generateKeyPem(leafType);
    const leafPem = buildCertificate({
      commonName: 'gw.test', subjectKeyPem: leafKey, issuer: { certPem: caPem, keyPem: caKey }, days: 10, ca: false,
      dns: ['gw.test', 'localhost'], ip: ['10.1.2.3', '::1'],
    });
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(leafPem);
    t.ok(ca.ca, 'CA has basicConstraints cA');
    t.notOk(leaf.ca, 'leaf is not a CA');
    t.ok(ca.verify(ca.publicKey), 'CA is self-signed');
    t.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'leaf is signed by the CA');
    t.ok(leaf.checkPrivateKey(createPrivateKey(leafKey)), 'leaf matches its key');
    t.equal(keyTypeOf(leaf.publicKey), leafType);
    t.equal(leaf.subjectAltName, 'DNS:gw.test, DNS:localhost, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1');
    t.equal(leaf.subject, 'CN=gw.test');
    t.equal(leaf.issuer, 'CN=test CA');
    // Key identifiers: RFC 5280 method 1 (SHA-1 of the key bits); the leaf's AKI is the CA's SKI.
    const ski = /Subject Key Identifier: *\n\s*(\S+)/.exec(execFileSync('openssl', ['x509', '-noout', '-text'], { input: caPem, encoding: 'utf8' }))![1];
    const aki = /Authority Key Identifier: *\n\s*(?:keyid:)?(\S+)/.exec(execFileSync('openssl', ['x509', '-noout', '-text'], { input: leafPem, encoding: 'utf8' }))![1];
    t.equal(aki, ski, 'AKI = issuer SKI');
    t.not(ski, 'DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09', 'not the SHA-1 of nothing');

    const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
    t.ok(days > 9.9 && days <= 10, `valid for 10 days (${days.toFixed(3)})`);
  });
}

t.test('truststore: every CA is a Java trusted entry; MAC checked with the password', async (t) => {
  const keys = await Promise.all([generateKeyPem('ec'), generateKeyPem('rsa')]);
  const cas = keys.map((k, i) => buildCertificate({ commonName: `CA ${i}`, subjectKeyPem: k, days: 30, ca: true }));
  const p12 = buildTruststore(cas, 's3cret', ['one', 'two']);
  const r = readPkcs12Certificates(p12, 's3cret');
  t.equal(r.macVerified, true);
  t.same(r.certificates.map((c) => [c.friendlyName, c.javaTrusted, c.pem]), [['one', true, cas[0]], ['two', true, cas[1]]]);
  t.throws(() => readPkcs12Certificates(p12, 'wrong'), /MAC mismatch/);
  const noPw = readPkcs12Certificates(p12);
  t.equal(noPw.macVerified, false, 'no password: certificates listed, MAC not checked');
  t.equal(noPw.certificates.length, 2);
});
