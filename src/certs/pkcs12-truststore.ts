/**
 * PKCS#12 (RFC 7292) truststores for Java clients, and reading certificates out of any PKCS#12.
 *
 * Written by hand with node-forge's asn1 module rather than `forge.pkcs12.toPkcs12Asn1`:
 *  - Java's PKCS12 KeyStore treats a key-less certificate bag as a *trusted* certificate entry
 *    only when the bag carries Oracle's trusted-key-usage attribute (OID
 *    2.16.840.1.113894.746875.1.1, value anyExtendedKeyUsage 2.5.29.37.0; what `keytool
 *    -importcert` writes). Without it, `keytool -list` shows nothing and TLS trusts nothing.
 *  - forge's writer parses every certificate with its RSA-only x509 module; ECDSA CAs fail.
 * The certificate bags sit in a plain `data` ContentInfo (a CA certificate is public; Java and
 * OpenSSL read unencrypted bags); integrity is an HMAC-SHA256 MAC with the PKCS#12 KDF
 * (RFC 7292 appendix B), which Java (8u301+, 11.0.12+, 17) and OpenSSL 1.1+/3 verify.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import forge from 'node-forge';
import { pemBody, toPem } from './certificate-builder.js';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const C = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha1: '1.3.14.3.2.26',
};
const MAC_ITERATIONS = 10_000;

const bin = (b: Buffer): string => b.toString('binary');
const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items);
const oid = (id: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(id).getBytes());
const octets = (s: string): Asn1 => asn1.create(U, T.OCTETSTRING, false, s);
const explicit0 = (inner: Asn1): Asn1 => asn1.create(C, 0, true, [inner]);
const dataInfo = (content: Asn1): Asn1 => seq([oid(OID.data), explicit0(octets(asn1.toDer(content).getBytes()))]);

/** forge's PKCS#12 KDF and PBE ciphers (present at runtime; missing from @types/node-forge). */
interface ForgePbe {
  generatePkcs12Key(password: string, salt: forge.util.ByteStringBuffer, id: number, iter: number, n: number, md?: forge.md.MessageDigest): forge.util.ByteStringBuffer;
  getCipher(oid: string, params: Asn1, password: string): forge.cipher.BlockCipher;
}
const pbe = (forge.pki as unknown as { pbe: ForgePbe }).pbe;

function macKeyAndDigest(digestOid: string): { md: () => forge.md.MessageDigest; name: 'sha256' | 'sha1'; size: number } {
  if (digestOid === OID.sha256) return { md: () => forge.md.sha256.create(), name: 'sha256', size: 32 };
  if (digestOid === OID.sha1) return { md: () => forge.md.sha1.create(), name: 'sha1', size: 20 };
  throw new Error(`unsupported PKCS#12 MAC digest ${digestOid}`);
}

/** RFC 7292 §5 / appendix B: HMAC over the authSafe content with a key from the PKCS#12 KDF (id 3). */
function computeMac(password: string, salt: string, iterations: number, digestOid: string, content: string): Buffer {
  const d = macKeyAndDigest(digestOid);
  const key = pbe.generatePkcs12Key(password, forge.util.createBuffer(salt), 3, iterations, d.size, d.md());
  const hmac = forge.hmac.create();
  hmac.start(d.name, key);
  hmac.update(content);
  return Buffer.from(hmac.digest().getBytes(), 'binary');
}

/**
 * A PKCS#12 truststore holding `caPems` as trusted certificate entries (aliases from
 * `aliases`, default `ca-1`, `ca-2`, …). The password protects integrity (the MAC).
 */
export function buildTruststore(caPems: string[], password: string, aliases: string[] = []): Buffer {
  const bags = caPems.map((pem, i) =>
    seq([
      oid(OID.certBag),
      explicit0(seq([oid(OID.x509Certificate), explicit0(octets(bin(pemBody(pem))))])),
      set([
        seq([oid(OID.friendlyName), set([// forge's DER codec converts BMPString values to and from UTF-16BE itself.
        asn1.create(U, T.BMPSTRING, false, aliases[i] ?? `ca-${i + 1}`)])]),
        seq([oid(OID.oracleTrustedKeyUsage), set([oid(OID.anyExtendedKeyUsage)])]),
      ]),
    ]),
  );
  const authSafe = seq([dataInfo(seq(bags))]);
  const authSafeDer = asn1.toDer(authSafe).getBytes();
  const salt = bin(randomBytes(16));
  const mac = computeMac(password, salt, MAC_ITERATIONS, OID.sha256, authSafeDer);
  const pfx = seq([
    asn1.create(U, T.INTEGER, false, '\x03'),
    seq([oid(OID.data), explicit0(octets(authSafeDer))]),
    seq([
      seq([seq([oid(OID.sha256), asn1.create(U, T.NULL, false, '')]), octets(bin(mac))]),
      octets(salt),
      asn1.create(U, T.INTEGER, false, asn1.integerToDer(MAC_ITERATIONS).getBytes()),
    ]),
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

export interface Pkcs12Certificate {
  pem: string;
  friendlyName: string | null;
  /** The bag carries Oracle's trusted-key-usage attribute (a Java trusted certificate entry). */
  javaTrusted: boolean;
}

export interface Pkcs12Contents {
  certificates: Pkcs12Certificate[];
  /** true: MAC checked with the password; false: no password given (not checked). */
  macVerified: boolean;
  /** Bags that were encrypted and could not be read without a password. */
  encryptedSkipped: number;
}

const kids = (n: Asn1 | undefined): Asn1[] => (n && Array.isArray(n.value) ? (n.value as Asn1[]) : []);
const oidOf = (n: Asn1 | undefined): string => (n && typeof n.value === 'string' ? asn1.derToOid(n.value) : '');
/** The string content of an OCTET STRING, constructed (BER) or not. */
const octetContent = (n: Asn1 | undefined): string => (!n ? '' : typeof n.value === 'string' ? n.value : kids(n).map(octetContent).join(''));

/**
 * Certificates in a PKCS#12 file. Unencrypted bags are read without a password; encrypted
 * bags (keytool's and OpenSSL's default) need it. With a password the MAC is verified and a
 * mismatch is an error ("wrong password or corrupted file").
 */
export function readPkcs12Certificates(der: Buffer, password?: string): Pkcs12Contents {
  const pfx = asn1.fromDer(bin(der), { strict: false } as never);
  const [, authInfo, macData] = kids(pfx);
  if (oidOf(kids(authInfo)[0]) !== OID.data) throw new Error('not a password-integrity PKCS#12 file');
  const authSafeDer = octetContent(kids(kids(authInfo)[1])[0]);
  let macVerified = false;
  if (password !== undefined && macData) {
    const [digestInfo, salt, iter] = kids(macData);
    const digestOid = oidOf(kids(kids(digestInfo)[0])[0]);
    const expected = Buffer.from(octetContent(kids(digestInfo)[1]), 'binary');
    const iterations = iter ? forge.util.createBuffer(iter.value as string).getInt((iter.value as string).length * 8) : 1;
    const actual = computeMac(password, octetContent(salt), iterations, digestOid, authSafeDer);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new Error('PKCS#12 MAC mismatch: wrong password or corrupted file');
    macVerified = true;
  }
  const out: Pkcs12Contents = { certificates: [], macVerified, encryptedSkipped: 0 };
  for (const info of kids(asn1.fromDer(authSafeDer, { strict: false } as never))) {
    const type = oidOf(kids(info)[0]);
    let safeContents: string;
    if (type === OID.data) {
      safeContents = octetContent(kids(kids(info)[1])[0]);
    } else if (type === OID.encryptedData) {
      if (password === undefined) {
        out.encryptedSkipped++;
        continue;
      }
      // EncryptedData { version, EncryptedContentInfo { type, alg, [0] IMPLICIT content } }
      const eci = kids(kids(kids(info)[1])[0])[1];
      const [, alg, content] = kids(eci);
      const cipher = pbe.getCipher(oidOf(kids(alg)[0]), kids(alg)[1]!, password);
      cipher.update(forge.util.createBuffer(octetContent(content)));
      if (!cipher.finish()) throw new Error('PKCS#12: could not decrypt a bag (wrong password?)');
      safeContents = cipher.output.getBytes();
    } else {
      continue;
    }
    for (const bag of kids(asn1.fromDer(safeContents, { strict: false } as never))) {
      const [bagId, bagValue, attrs] = kids(bag);
      if (oidOf(bagId) !== OID.certBag) continue;
      const certBag = kids(bagValue)[0];
      if (oidOf(kids(certBag)[0]) !== OID.x509Certificate) continue;
      const certDer = octetContent(kids(kids(certBag)[1])[0]);
      let friendlyName: string | null = null;
      let javaTrusted = false;
      for (const attr of kids(attrs)) {
        const id = oidOf(kids(attr)[0]);
        if (id === OID.friendlyName) friendlyName = String(kids(kids(attr)[1])[0]?.value ?? '');
        if (id === OID.oracleTrustedKeyUsage) javaTrusted = true;
      }
      out.certificates.push({ pem: toPem(Buffer.from(certDer, 'binary')), friendlyName, javaTrusted });
    }
  }
  return out;
}
