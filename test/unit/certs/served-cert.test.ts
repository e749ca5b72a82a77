import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildCertificate, generateKeyPem } from '../../../src/certs/certificate-builder.js';
import { expiryWarning, loadServedCert, sniMatches } from '../../../src/tls/served-cert.js';

const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-served-'));
const w = (name: string, data: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
};

t.test('a matching pair loads; a wrong key or a missing file is refused naming both files', async (t) => {
  const [k1, k2] = await Promise.all([generateKeyPem('ec'), generateKeyPem('ec')]);
  const cert = w('a.crt', buildCertificate({ commonName: 'a', subjectKeyPem: k1, days: 100, ca: false, dns: ['A.test', '*.b.test'] }));
  const key = w('a.key', k1);
  const other = w('other.key', k2);
  const c = loadServedCert('listeners[0].tls', cert, key);
  t.same(c.dnsNames, ['a.test', '*.b.test'], 'DNS names, lowercased');
  t.equal(expiryWarning(c), null, '100 days left: no warning');
  t.throws(() => loadServedCert('listeners[0].tls', cert, other), {
    name: 'CertificateError',
    message: `listeners[0].tls: certificate ${cert} and key ${other} do not match (the key is not this certificate's private key)`,
  });
  t.throws(() => loadServedCert('farms[1].tls', path.join(dir, 'nope.crt'), key), { message: `farms[1].tls: cannot read certificate file ${path.join(dir, 'nope.crt')} (file not found)` });
  t.throws(() => loadServedCert('x', cert, w('junk.key', 'junk')), { message: new RegExp(`^x: ${w('junk.key', 'junk')} is not a usable private key for ${cert}`) });
});

t.test('expiry warning within 30 days, and once expired', async (t) => {
  const k = await generateKeyPem('rsa');
  const cert = w('soon.crt', buildCertificate({ commonName: 'soon', subjectKeyPem: k, days: 10, ca: false, dns: ['soon.test'] }));
  const c = loadServedCert('listeners[0].tls', cert, w('soon.key', k));
  t.match(expiryWarning(c), /^listeners\[0\]\.tls: certificate .*soon\.crt expires in 9 day\(s\), on .* \(less than 30 days\)$/);
  t.match(expiryWarning(c, Date.now() + 11 * 86_400_000), /EXPIRED on/);
});

t.test('SNI name matching: exact, or *.x for exactly one more label', async (t) => {
  t.ok(sniMatches('a.test', 'a.test'));
  t.ok(sniMatches('*.b.test', 'x.b.test'));
  t.notOk(sniMatches('*.b.test', 'b.test'));
  t.notOk(sniMatches('*.b.test', 'y.x.b.test'));
  t.notOk(sniMatches('a.test', 'b.test'));
});
