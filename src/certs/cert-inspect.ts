/**
 * `longhaul certs inspect FILE`: what a PEM or PKCS#12 file holds, in the terms `openssl x509
 * -text` uses (subject and issuer as OpenSSL prints them one RDN per line, SANs exactly as
 * OpenSSL's `X509v3 Subject Alternative Name` line, validity in OpenSSL's GMT form and ISO 8601).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { readPkcs12Certificates } from './pkcs12-truststore.js';

export interface InspectedCertificate {
  subject: string;
  issuer: string;
  /** OpenSSL's rendering, e.g. `DNS:gw.branch.local, IP Address:10.1.2.3`; '' when none. */
  sans: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, colon-separated uppercase hex (as `openssl x509 -fingerprint -sha256`). */
  fingerprint256: string;
  serial: string;
  ca: boolean;
  key: string;
  /** PKCS#12 only. */
  alias?: string | null;
  javaTrusted?: boolean;
}

export interface InspectResult {
  format: 'pem' | 'pkcs12';
  certificates: InspectedCertificate[];
  /** PKCS#12: notes such as an unchecked MAC or encrypted bags that were skipped. */
  notes: string[];
}

const DAY_MS = 86_400_000;

function keyText(cert: X509Certificate): string {
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'rsa') return `RSA ${d.modulusLength ?? '?'}`;
  if (k.asymmetricKeyType === 'ec') return d.namedCurve === 'prime256v1' ? 'ECDSA P-256' : `ECDSA ${d.namedCurve ?? '?'}`;
  return k.asymmetricKeyType ?? 'unknown';
}

export function inspectCertificate(pemOrDer: string | Buffer): InspectedCertificate {
  const c = new X509Certificate(pemOrDer);
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    sans: c.subjectAltName ?? '',
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    fingerprint256: c.fingerprint256,
    serial: c.serialNumber,
    ca: c.ca,
    key: keyText(c),
  };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads FILE as PEM (every CERTIFICATE block) or PKCS#12. The PKCS#12 password comes from
 * `password`, else from `<name>.password` beside `<name>.p12` when that exists (what `certs
 * init` writes); without one, unencrypted bags are still listed and the MAC is not checked.
 */
export async function inspectFile(file: string, password?: string): Promise<InspectResult> {
  const data = await readFile(file);
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    const blocks = text.match(PEM_CERT) ?? [];
    if (blocks.length === 0) throw new Error(`${file}: no CERTIFICATE block (is it a key?)`);
    return { format: 'pem', certificates: blocks.map((b) => inspectCertificate(b)), notes: [] };
  }
  if (data[0] !== 0x30) throw new Error(`${file}: neither PEM nor DER (PKCS#12)`);
  let pw = password;
  if (pw === undefined) {
    const sibling = join(dirname(file), `${basename(file, extname(file))}.password`);
    pw = await readFile(sibling, 'utf8').then((s) => s.trim(), () => undefined);
  }
  let p12;
  try {
    p12 = readPkcs12Certificates(data, pw);
  } catch (err) {
    // Not PKCS#12: maybe a single DER certificate.
    try {
      return { format: 'pem', certificates: [inspectCertificate(data)], notes: ['DER certificate'] };
    } catch {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }
  const notes: string[] = [];
  notes.push(p12.macVerified ? 'MAC verified with the password' : 'MAC not checked (no password: use --password or --password-file)');
  if (p12.encryptedSkipped > 0) notes.push(`${p12.encryptedSkipped} encrypted bag(s) not read (no password)`);
  return {
    format: 'pkcs12',
    certificates: p12.certificates.map((c) => ({ ...inspectCertificate(c.pem), alias: c.friendlyName, javaTrusted: c.javaTrusted })),
    notes,
  };
}

function gmt(d: Date): string {
  return `${d.toISOString().replace(/\.000Z$/, 'Z')}`;
}

/** Human-readable report, one `key: value` per line. */
export function formatInspect(file: string, r: InspectResult, now = Date.now()): string {
  const lines = [`${file}: ${r.format === 'pkcs12' ? 'PKCS#12' : 'PEM'}, ${r.certificates.length} certificate(s)`];
  for (const n of r.notes) lines.push(`  (${n})`);
  r.certificates.forEach((c, i) => {
    const days = Math.floor((c.notAfter.getTime() - now) / DAY_MS);
    lines.push(`certificate ${i + 1}:`);
    if (r.format === 'pkcs12') lines.push(`  alias:       ${c.alias ?? '(none)'}${c.javaTrusted ? ' (Java trusted certificate entry)' : ''}`);
    lines.push(`  subject:     ${c.subject}`);
    lines.push(`  issuer:      ${c.issuer}`);
    lines.push(`  SANs:        ${c.sans || '(none)'}`);
    lines.push(`  not before:  ${gmt(c.notBefore)}`);
    lines.push(`  not after:   ${gmt(c.notAfter)} (${days >= 0 ? `expires in ${days} day(s)` : `EXPIRED ${-days} day(s) ago`})`);
    lines.push(`  key:         ${c.key}${c.ca ? ', CA' : ''}`);
    lines.push(`  serial:      ${c.serial}`);
    lines.push(`  sha256:      ${c.fingerprint256}`);
  });
  return `${lines.join('\n')}\n`;
}
