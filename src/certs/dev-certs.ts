/**
 * Development and test PKI: a private CA and leaf certificates issued by it.
 *
 * Keys come from node:crypto (native, generated on the libuv thread pool); certificates are
 * built and signed by node-forge. Only RSA 2048: node-forge 1.4.x cannot encode or sign X.509
 * certificates with ECDSA keys (its x509 module knows RSA public keys only).
 *
 * Never used on the request path (design: `certs` serves the CLI and tests).
 */
import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve, join } from 'node:path';
import forge from 'node-forge';

/** A certificate and its private key, both PEM. keyPem is PKCS#8 ("BEGIN PRIVATE KEY"). */
export interface CertKeyPair {
  certPem: string;
  keyPem: string;
}

export type KeyType = 'rsa' | 'ec';

export interface CaOptions {
  commonName: string;
  /** Validity in days from now; default 3650. */
  days?: number;
  /** Default 'rsa'. 'ec' is rejected: node-forge cannot sign ECDSA certificates. */
  keyType?: KeyType;
}

export interface LeafOptions {
  commonName: string;
  /** subjectAltName DNS names. */
  dns: string[];
  /** subjectAltName IP addresses, v4 or v6. */
  ip: string[];
  /** Validity in days from now; default 365. */
  days?: number;
}

export interface DevCertPaths {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface DevCertOptions {
  dns: string[];
  ip: string[];
  /** Base name of the leaf files `<name>.crt` / `<name>.key`; default 'gateway'. */
  name?: string;
}

export interface TestPki {
  ca: CertKeyPair;
  /** SAN: localhost, 127.0.0.1, ::1. */
  gateway: CertKeyPair;
  /** SAN: localhost, farm.test, a.test, b.test, 127.0.0.1. */
  farm: CertKeyPair;
  /** A leaf usable as a TLS client certificate (CN longhaul-test-client). */
  client: CertKeyPair;
}

const CA_DAYS = 3650;
const LEAF_DAYS = 365;
/** notBefore is backdated so that a peer whose clock is slightly behind still accepts the cert. */
const BACKDATE_MS = 60 * 60 * 1000;
/** An existing file is reused only if it stays valid at least this long. */
const REUSE_MARGIN_MS = 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function rsaKeyPem(): Promise<string> {
  return new Promise((resolvePem, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, _publicKey, privateKey) => (err ? reject(err) : resolvePem(privateKey)),
    );
  });
}

function checkKeyType(keyType: KeyType | undefined): void {
  if (keyType !== undefined && keyType !== 'rsa') {
    throw new Error(`keyType '${keyType}' is not supported: node-forge can only build RSA certificates`);
  }
}

/** Positive, non-zero 128-bit serial (DER INTEGER must not have its sign bit set). */
function serialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

function baseCert(keyPem: string, commonName: string, days: number): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialHex();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  return { cert, key };
}

function buildCa(keyPem: string, opts: CaOptions): CertKeyPair {
  const { cert, key } = baseCert(keyPem, opts.commonName, opts.days ?? CA_DAYS);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

function buildLeaf(keyPem: string, ca: CertKeyPair, opts: LeafOptions): CertKeyPair {
  for (const ip of opts.ip) {
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
  }
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const altNames = [...opts.dns.map((value) => ({ type: 2, value })), ...opts.ip.map((ip) => ({ type: 7, ip }))];
  const { cert } = baseCert(keyPem, opts.commonName, opts.days ?? LEAF_DAYS);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    // clientAuth too: the same leaves serve as client certificates in tests.
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    // RFC 5280: a subjectAltName extension must not be empty.
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A self-signed CA certificate (basicConstraints cA, keyCertSign) and its fresh RSA 2048 key. */
export async function createCa(opts: CaOptions): Promise<CertKeyPair> {
  checkKeyType(opts.keyType);
  return buildCa(await rsaKeyPem(), opts);
}

/** A server+client leaf signed by `ca`, with a fresh RSA 2048 key and the given SANs. */
export async function issueLeaf(ca: CertKeyPair, opts: LeafOptions): Promise<CertKeyPair> {
  return buildLeaf(await rsaKeyPem(), ca, opts);
}

let testPki: Promise<TestPki> | undefined;

/**
 * In-memory PKI for tests. Generated once per process (all four keys in parallel) and shared:
 * callers must not rely on getting fresh keys; use createCa/issueLeaf for that.
 */
export function generateTestPki(): Promise<TestPki> {
  testPki ??= (async () => {
    const [caKey, gwKey, farmKey, clientKey] = await Promise.all([rsaKeyPem(), rsaKeyPem(), rsaKeyPem(), rsaKeyPem()]);
    const ca = buildCa(caKey, { commonName: 'longhaul test CA' });
    return {
      ca,
      gateway: buildLeaf(gwKey, ca, { commonName: 'localhost', dns: ['localhost'], ip: ['127.0.0.1', '::1'] }),
      farm: buildLeaf(farmKey, ca, {
        commonName: 'farm.test',
        dns: ['localhost', 'farm.test', 'a.test', 'b.test'],
        ip: ['127.0.0.1'],
      }),
      client: buildLeaf(clientKey, ca, { commonName: 'longhaul-test-client', dns: [], ip: [] }),
    };
  })();
  testPki.catch(() => {
    testPki = undefined;
  });
  return testPki;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function parse(pem: string | null): X509Certificate | null {
  if (pem === null) return null;
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | null): boolean {
  if (keyPem === null) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function longLived(cert: X509Certificate): boolean {
  return Date.parse(cert.validTo) - Date.now() > REUSE_MARGIN_MS && Date.parse(cert.validFrom) <= Date.now();
}

function usableCa(certPem: string | null, keyPem: string | null): boolean {
  const cert = parse(certPem);
  return cert !== null && cert.ca && longLived(cert) && keyMatches(cert, keyPem);
}

function usableLeaf(certPem: string | null, keyPem: string | null, caPem: string, opts: DevCertOptions): boolean {
  const cert = parse(certPem);
  const ca = parse(caPem);
  if (cert === null || ca === null) return false;
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey) || !longLived(cert) || !keyMatches(cert, keyPem)) return false;
  return opts.dns.every((name) => cert.checkHost(name, { wildcards: false, subject: 'never' }) !== undefined) && opts.ip.every((ip) => cert.checkIP(ip) !== undefined);
}

/** Replaces `path` atomically (temp file + rename) so a reader never sees a half-written file. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/**
 * Ensures `dir` holds ca.crt, ca.key, <name>.crt, <name>.key for the given SANs and returns their
 * absolute paths. Idempotent: a valid existing CA (key matches, valid > 1 day) is kept; a valid
 * existing leaf (issued by that CA, key matches, covers every requested SAN, valid > 1 day) is kept.
 * A new CA always forces a new leaf. Private keys are mode 0600 (re-applied to reused files).
 */
export async function writeDevCerts(dir: string, opts: DevCertOptions): Promise<DevCertPaths> {
  const root = resolve(dir);
  const name = opts.name ?? 'gateway';
  const paths: DevCertPaths = {
    caCert: join(root, 'ca.crt'),
    caKey: join(root, 'ca.key'),
    cert: join(root, `${name}.crt`),
    key: join(root, `${name}.key`),
  };
  await mkdir(root, { recursive: true });

  const [caCertPem, caKeyPem, certPem, keyPem] = await Promise.all(
    [paths.caCert, paths.caKey, paths.cert, paths.key].map(readOptional),
  );

  let ca: CertKeyPair;
  let newCa = false;
  if (usableCa(caCertPem, caKeyPem)) {
    ca = { certPem: caCertPem!, keyPem: caKeyPem! };
    await chmod(paths.caKey, 0o600);
  } else {
    ca = await createCa({ commonName: 'longhaul dev CA' });
    await writeAtomic(paths.caKey, ca.keyPem, 0o600);
    await writeAtomic(paths.caCert, ca.certPem, 0o644);
    newCa = true;
  }

  if (!newCa && usableLeaf(certPem, keyPem, ca.certPem, opts)) {
    await chmod(paths.key, 0o600);
  } else {
    const leaf = await issueLeaf(ca, {
      commonName: opts.dns[0] ?? opts.ip[0] ?? 'longhaul',
      dns: opts.dns,
      ip: opts.ip,
    });
    await writeAtomic(paths.key, leaf.keyPem, 0o600);
    await writeAtomic(paths.cert, leaf.certPem, 0o644);
  }
  return paths;
}
