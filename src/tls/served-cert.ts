/**
 * A certificate + key pair the gateway presents (a listener's default or SNI certificate, a
 * farm's client certificate), read and checked before it is used: both files readable, the
 * certificate parses, the key parses and is the certificate's private key. Every error names
 * the config key and both files, so `longhaul run` can refuse to start with a clear message.
 *
 * Expiry: a certificate with less than EXPIRY_WARN_DAYS left (or already expired) yields a
 * warning; the gateway logs it at start and reload and lists it in /stats. It still serves it.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ServedCert {
  /** Config key path, e.g. `listeners[0].tls` or `listeners[0].tls.sni-certs[1]`. */
  readonly where: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  readonly subject: string;
  /** DNS names of the subjectAltName, lowercased (wildcards kept as `*.example.net`). */
  readonly dnsNames: string[];
  readonly notAfter: Date;
  readonly fingerprint256: string;
}

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

export function readFile(where: string, what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertificateError(`${where}: cannot read ${what} file ${file} (${code === 'ENOENT' ? 'file not found' : (code ?? String(err))})`);
  }
}

/** Reads and checks one cert/key pair; throws CertificateError naming `where` and the files. */
export function loadServedCert(where: string, certFile: string, keyFile: string): ServedCert {
  const certPem = readFile(where, 'certificate', certFile);
  const keyPem = readFile(where, 'key', keyFile);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new CertificateError(`${where}: ${certFile} is not a PEM certificate (${(err as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new CertificateError(`${where}: ${keyFile} is not a usable private key for ${certFile} (${(err as Error).message})`);
  }
  if (!matches) throw new CertificateError(`${where}: certificate ${certFile} and key ${keyFile} do not match (the key is not this certificate's private key)`);
  const dnsNames = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return {
    where,
    certFile,
    keyFile,
    certPem,
    keyPem,
    subject: cert.subject.replace(/\n/g, ', '),
    dnsNames,
    notAfter: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

export function daysLeft(c: ServedCert, now = Date.now()): number {
  return Math.floor((c.notAfter.getTime() - now) / DAY_MS);
}

/** A warning text when `c` expires within EXPIRY_WARN_DAYS (or has expired); null otherwise. */
export function expiryWarning(c: ServedCert, now = Date.now()): string | null {
  const left = c.notAfter.getTime() - now;
  if (left >= EXPIRY_WARN_DAYS * DAY_MS) return null;
  const when = c.notAfter.toISOString();
  return left <= 0
    ? `${c.where}: certificate ${c.certFile} EXPIRED on ${when}`
    : `${c.where}: certificate ${c.certFile} expires in ${daysLeft(c, now)} day(s), on ${when} (less than ${EXPIRY_WARN_DAYS} days)`;
}

/** What /stats shows for one served certificate. */
export function servedCertSummary(c: ServedCert, now = Date.now()): Record<string, unknown> {
  return {
    where: c.where,
    cert: c.certFile,
    subject: c.subject,
    names: c.dnsNames,
    not_after: c.notAfter.toISOString(),
    days_left: daysLeft(c, now),
    fingerprint256: c.fingerprint256,
    ...(expiryWarning(c, now) ? { warning: expiryWarning(c, now) } : {}),
  };
}

/**
 * Does a (lowercased) SNI name match a configured name? Exact, or `*.rest` matching exactly one
 * more label (RFC 6125 §6.4.3, and what uWS's SNI tree does).
 */
export function sniMatches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}
