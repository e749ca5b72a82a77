/**
 * The files of one branch office's PKI (`longhaul certs init` / `renew`), in one directory:
 *
 *   ca.crt               branch CA certificate (0644)
 *   ca.key               branch CA private key (0600)
 *   gateway.crt          the gateway's leaf, signed by the CA, with the requested SANs (0644)
 *   gateway.key          its private key (0600)
 *   truststore.p12       PKCS#12 with the CA as a Java trusted certificate entry (0644)
 *   truststore.password  the truststore's random password, one line (0600)
 *
 * Invariants: `init` writes nothing at all when any of these exists, unless `force`; every file
 * is written to a temp file then renamed, so a reader never sees half a file; secrets are
 * created with mode 0600 (never widened afterwards).
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildCertificate, generateKeyPem, keyTypeOf, type KeyType } from './certificate-builder.js';
import { buildTruststore } from './pkcs12-truststore.js';

export interface BranchPkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
  truststore: string;
  truststorePassword: string;
}

export interface InitOptions {
  dir: string;
  dns: string[];
  ip: string[];
  keyType?: KeyType;
  force?: boolean;
  /** Leaf validity in days; default 397 (the CA/Browser Forum's maximum, also fine for Java). */
  days?: number;
  /** CA validity in days; default 3650. */
  caDays?: number;
}

export interface RenewOptions {
  dir: string;
  /** Default: the SANs of the current gateway.crt. */
  dns?: string[];
  ip?: string[];
  /** Default: the key type of the current gateway.key (else the CA's). */
  keyType?: KeyType;
  days?: number;
}

export const LEAF_DAYS = 397;
export const CA_DAYS = 3650;

export class BranchPkiError extends Error {}

export function branchPkiPaths(dir: string): BranchPkiPaths {
  const root = resolve(dir);
  return {
    dir: root,
    caCert: join(root, 'ca.crt'),
    caKey: join(root, 'ca.key'),
    cert: join(root, 'gateway.crt'),
    key: join(root, 'gateway.key'),
    truststore: join(root, 'truststore.p12'),
    truststorePassword: join(root, 'truststore.password'),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await chmod(tmp, mode); // the umask may have narrowed 0644; 0600 is never widened by it
  await rename(tmp, path);
}

function checkSans(dns: string[], ip: string[]): void {
  if (dns.length + ip.length === 0) throw new BranchPkiError('give at least one --dns NAME or --ip ADDRESS for the gateway certificate');
}

async function issueGateway(paths: BranchPkiPaths, ca: { certPem: string; keyPem: string }, o: { dns: string[]; ip: string[]; keyType: KeyType; days: number }): Promise<void> {
  const keyPem = await generateKeyPem(o.keyType);
  const certPem = buildCertificate({
    commonName: o.dns[0] ?? o.ip[0]!,
    subjectKeyPem: keyPem,
    issuer: ca,
    days: o.days,
    ca: false,
    dns: o.dns,
    ip: o.ip,
  });
  await writeAtomic(paths.key, keyPem, 0o600);
  await writeAtomic(paths.cert, certPem, 0o644);
}

/** Creates the branch CA, the gateway leaf and the Java truststore. */
export async function initBranchPki(o: InitOptions): Promise<BranchPkiPaths> {
  checkSans(o.dns, o.ip);
  const paths = branchPkiPaths(o.dir);
  const targets = [paths.caCert, paths.caKey, paths.cert, paths.key, paths.truststore, paths.truststorePassword];
  if (!o.force) {
    const present: string[] = [];
    for (const t of targets) if (await exists(t)) present.push(t);
    if (present.length > 0) throw new BranchPkiError(`refusing to overwrite existing files (use --force): ${present.join(', ')}`);
  }
  const keyType = o.keyType ?? 'rsa';
  await mkdir(paths.dir, { recursive: true });
  const caKeyPem = await generateKeyPem(keyType);
  const host = o.dns[0] ?? o.ip[0]!;
  const caCertPem = buildCertificate({ commonName: `longhaul branch CA (${host})`, subjectKeyPem: caKeyPem, days: o.caDays ?? CA_DAYS, ca: true });
  const password = randomBytes(24).toString('base64url');
  await writeAtomic(paths.caKey, caKeyPem, 0o600);
  await writeAtomic(paths.caCert, caCertPem, 0o644);
  await issueGateway(paths, { certPem: caCertPem, keyPem: caKeyPem }, { dns: o.dns, ip: o.ip, keyType, days: o.days ?? LEAF_DAYS });
  await writeAtomic(paths.truststorePassword, `${password}\n`, 0o600);
  await writeAtomic(paths.truststore, buildTruststore([caCertPem], password, ['longhaul-branch-ca']), 0o644);
  return paths;
}

/** The DNS names and IP addresses of a certificate's subjectAltName. */
export function sansOf(cert: X509Certificate): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  // Node (OpenSSL) prints `DNS:a, IP Address:1.2.3.4`; names with ', ' in them are quoted JSON.
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.push(part.slice(11));
  }
  return { dns, ip };
}

/** A new gateway leaf (new key) from the existing CA; the CA and the truststore are unchanged. */
export async function renewGatewayCert(o: RenewOptions): Promise<BranchPkiPaths> {
  const paths = branchPkiPaths(o.dir);
  const read = async (p: string) => {
    try {
      return await readFile(p, 'utf8');
    } catch {
      throw new BranchPkiError(`cannot read ${p} (run \`longhaul certs init\` first)`);
    }
  };
  const ca = { certPem: await read(paths.caCert), keyPem: await read(paths.caKey) };
  const caCert = new X509Certificate(ca.certPem);
  if (!caCert.checkPrivateKey(createPrivateKey(ca.keyPem))) throw new BranchPkiError(`${paths.caKey} is not the key of ${paths.caCert}`);
  let current: { dns: string[]; ip: string[]; keyType: KeyType } | null = null;
  if (await exists(paths.cert)) {
    const leaf = new X509Certificate(await readFile(paths.cert, 'utf8'));
    current = { ...sansOf(leaf), keyType: keyTypeOf(leaf.publicKey) };
  }
  // Any --dns/--ip given replaces the whole SAN list; none keeps the current one.
  const given = (o.dns?.length ?? 0) + (o.ip?.length ?? 0) > 0;
  const dns = given ? (o.dns ?? []) : (current?.dns ?? []);
  const ip = given ? (o.ip ?? []) : (current?.ip ?? []);
  checkSans(dns, ip);
  const keyType = o.keyType ?? current?.keyType ?? keyTypeOf(caCert.publicKey);
  await issueGateway(paths, ca, { dns, ip, keyType, days: o.days ?? LEAF_DAYS });
  return paths;
}
