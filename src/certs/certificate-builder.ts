/**
 * X.509 v3 certificates with RSA 2048 or ECDSA P-256 keys, for `longhaul certs`.
 *
 * Split of work: node:crypto makes the keys and the signatures (RSA PKCS#1 v1.5 or ECDSA, both
 * with SHA-256); node-forge only encodes DER (its x509 module knows RSA keys only, its asn1
 * module knows nothing about key types). So one code path serves both key types and any mix of
 * CA and leaf key types. Structures follow RFC 5280 §4.1; extensions §4.2.1.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export type KeyType = 'rsa' | 'ec';
export const KEY_TYPES: readonly KeyType[] = ['rsa', 'ec'];

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const OID = {
  commonName: '2.5.4.3',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

const DAY_MS = 24 * 60 * 60 * 1000;
/** notBefore is backdated so that a peer whose clock is slightly behind still accepts the cert. */
const BACKDATE_MS = 60 * 60 * 1000;

/** A fresh private key as PKCS#8 PEM: RSA 2048 or ECDSA on P-256 (prime256v1). */
export function generateKeyPem(keyType: KeyType): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: string, priv: string) => (err ? reject(err) : resolve(priv));
    const enc = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
    if (keyType === 'ec') generateKeyPair('ec', { namedCurve: 'prime256v1', ...enc }, done);
    else generateKeyPair('rsa', { modulusLength: 2048, ...enc }, done);
  });
}

/** 'rsa' | 'ec' of a key, or an error for anything else (ed25519, DSA, other curves). */
export function keyTypeOf(key: KeyObject): KeyType {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ec';
  throw new Error(`unsupported key: ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''} (RSA or ECDSA P-256 only)`);
}

export interface CertificateSpec {
  commonName: string;
  /** The subject's key (its public half goes into the certificate). PEM, private or public. */
  subjectKeyPem: string;
  /** Issuer certificate + key; absent: self-signed by subjectKeyPem (a root CA). */
  issuer?: { certPem: string; keyPem: string };
  days: number;
  /** CA certificate (basicConstraints cA, pathLen 0, keyCertSign) or a server+client leaf. */
  ca: boolean;
  dns?: string[];
  ip?: string[];
}

const bin = (b: Buffer): string => b.toString('binary');
const der = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
const oid = (id: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(id).getBytes());

function time(date: Date): Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function nameCn(cn: string): Asn1 {
  return seq([asn1.create(U, T.SET, true, [seq([oid(OID.commonName), asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(cn))])])]);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return seq([
    oid(id),
    ...(critical ? [asn1.create(U, T.BOOLEAN, false, '\xff')] : []),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

/** DER BIT STRING of named bits (bit 0 = most significant bit of the first byte), trailing zeros trimmed. */
function namedBits(bits: number[]): Asn1 {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (max & 7);
  return asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused) + bin(bytes));
}

/** SubjectPublicKeyInfo node and the key identifier (RFC 5280 §4.2.1.2 method 1: SHA-1 of the key bits). */
function publicKeyInfo(keyPem: string): { spki: Asn1; keyId: Buffer } {
  // decodeBitStrings off: forge would otherwise parse an RSA key's bits as ASN.1 (no string value).
  const spki = asn1.fromDer(bin(createPublicKey(keyPem).export({ type: 'spki', format: 'der' })), { decodeBitStrings: false } as never);
  const bits = (spki.value as Asn1[])[1]!.value as string;
  if (typeof bits !== 'string' || bits.length < 2) throw new Error('unexpected SubjectPublicKeyInfo encoding');
  return { spki, keyId: createHash('sha1').update(Buffer.from(bits.slice(1), 'binary')).digest() };
}

/** The subject Name node of a certificate, as encoded there (so issuer bytes match exactly). */
export function subjectNameNode(certPem: string): Asn1 {
  const tbs = (asn1.fromDer(bin(pemBody(certPem))).value as Asn1[])[0]!;
  const fields = tbs.value as Asn1[];
  const v = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return fields[v + 4]!;
}

/** DER bytes of the first PEM block of the given label. */
export function pemBody(pem: string, label = 'CERTIFICATE'): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`no ${label} PEM block`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

export function toPem(derBytes: Buffer, label = 'CERTIFICATE'): string {
  const b64 = derBytes.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function sanNode(dns: string[], ip: string[]): Asn1 {
  return seq([
    ...dns.map((d) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, d)),
    ...ip.map((a) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(ipBytes(a)))),
  ]);
}

function ipBytes(address: string): Buffer {
  const family = isIP(address);
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  if (family === 6) return Buffer.from((forge.util as unknown as { bytesFromIP(ip: string): string }).bytesFromIP(address), 'binary');
  throw new Error(`not an IP address: ${address}`);
}

/** Builds and signs one certificate; returns it as PEM. */
export function buildCertificate(spec: CertificateSpec): string {
  const dns = spec.dns ?? [];
  const ip = spec.ip ?? [];
  for (const a of ip) ipBytes(a);
  const subjectType = keyTypeOf(createPublicKey(spec.subjectKeyPem));
  const signerKey = createPrivateKey(spec.issuer?.keyPem ?? spec.subjectKeyPem);
  const signerType = keyTypeOf(signerKey);
  const sigAlg = signerType === 'ec' ? seq([oid(OID.ecdsaWithSha256)]) : seq([oid(OID.sha256WithRSA), asn1.create(U, T.NULL, false, '')]);
  const { spki, keyId } = publicKeyInfo(spec.subjectKeyPem);
  // The issuer's key identifier, computed the way its own subjectKeyIdentifier was (above).
  const issuerKeyId = spec.issuer ? publicKeyInfo(spec.issuer.certPem).keyId : keyId;
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, non-zero, 16 bytes

  const exts: Asn1[] = [];
  if (spec.ca) {
    exts.push(extension(OID.basicConstraints, true, seq([asn1.create(U, T.BOOLEAN, false, '\xff'), asn1.create(U, T.INTEGER, false, '\x00')])));
    exts.push(extension(OID.keyUsage, true, namedBits([0, 5, 6]))); // digitalSignature, keyCertSign, cRLSign
  } else {
    exts.push(extension(OID.basicConstraints, true, seq([])));
    // keyEncipherment only for RSA: an ECDSA key cannot encipher (RFC 8813 §3).
    exts.push(extension(OID.keyUsage, true, namedBits(subjectType === 'rsa' ? [0, 2] : [0])));
    exts.push(extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])));
  }
  exts.push(extension(OID.subjectKeyId, false, asn1.create(U, T.OCTETSTRING, false, bin(keyId))));
  if (spec.issuer) exts.push(extension(OID.authorityKeyId, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(issuerKeyId))])));
  // RFC 5280 §4.2.1.6: a subjectAltName extension must not be empty.
  if (dns.length + ip.length > 0) exts.push(extension(OID.subjectAltName, false, sanNode(dns, ip)));

  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.INTEGER, false, '\x02')]), // v3
    asn1.create(U, T.INTEGER, false, bin(serial)),
    sigAlg,
    spec.issuer ? subjectNameNode(spec.issuer.certPem) : nameCn(spec.commonName),
    seq([time(new Date(now - BACKDATE_MS)), time(new Date(now + spec.days * DAY_MS))]),
    nameCn(spec.commonName),
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(exts)]),
  ]);
  const tbsDer = der(tbs);
  // node:crypto: PKCS#1 v1.5 for RSA keys, DER-encoded ECDSA-Sig-Value for EC keys — what X.509 wants.
  const signature = sign('sha256', tbsDer, signerKey);
  const cert = seq([asn1.fromDer(bin(tbsDer)), sigAlg, asn1.create(U, T.BITSTRING, false, `\x00${bin(signature)}`)]);
  return toPem(der(cert));
}
