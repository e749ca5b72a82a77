/**
 * What OpenSSL is told for one client listener (issue 13 item 4): lowest version, TLS 1.2
 * cipher list, and client-certificate verification against `tls.client-ca`. The same options go
 * into the server's default context AND every SNI context: after the SNI callback switches
 * context, OpenSSL verifies the client's chain against the NEW context's store, so a context
 * without the CA would refuse every client certificate on that name.
 */
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type { ListenerTlsPolicy } from '../core/client-access-policy.js';
import { CertificateError, readFile } from './served-cert.js';

/** The PEM bundle of `tls.client-ca`, read and checked at load (each certificate parsed). */
export function loadClientCa(where: string, file: string): Buffer {
  const bytes = readFile(where, 'client CA', file);
  const blocks = bytes.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new CertificateError(`${where}: ${file} holds no PEM certificate`);
  for (const [i, pem] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (err) {
      throw new CertificateError(`${where}: certificate ${i + 1} in ${file} cannot be parsed (${(err as Error).message})`);
    }
    if (!cert.ca) throw new CertificateError(`${where}: certificate ${i + 1} in ${file} (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate`);
  }
  return bytes;
}

/** Context options of the policy (merged into every context the listener builds). */
export function contextOptions(policy: ListenerTlsPolicy, clientCa: Buffer | null): tls.SecureContextOptions {
  return { minVersion: policy.minVersion, ciphers: policy.ciphers, ...(clientCa ? { ca: clientCa } : {}) };
}

/**
 * Server options: ask for a client certificate only with a CA. `required` lets OpenSSL refuse
 * the handshake; `optional` completes it and clientCertVerdict() decides on the socket.
 */
export function serverVerifyOptions(policy: ListenerTlsPolicy, clientCa: Buffer | null): { requestCert: boolean; rejectUnauthorized: boolean } {
  if (!clientCa) return { requestCert: false, rejectUnauthorized: false };
  return { requestCert: true, rejectUnauthorized: policy.verify === 'required' };
}

export type ClientCertVerdict = { ok: true; subject: string | null } | { ok: false; reason: string };

/**
 * After the handshake. `optional` (nginx `ssl_verify_client optional`): no certificate is fine,
 * an invalid one is not (the client offered an identity we cannot trust). The subject is
 * RFC 2253-like, comma-separated (what the farm gets in `client-subject-header`).
 */
export function clientCertVerdict(socket: tls.TLSSocket, policy: ListenerTlsPolicy, clientCa: Buffer | null): ClientCertVerdict {
  if (!clientCa) return { ok: true, subject: null };
  const peer = socket.getPeerX509Certificate();
  if (!peer) return policy.verify === 'required' ? { ok: false, reason: 'no client certificate' } : { ok: true, subject: null };
  if (!socket.authorized) return { ok: false, reason: `client certificate not trusted (${String(socket.authorizationError)})` };
  return { ok: true, subject: peer.subject.split('\n').filter(Boolean).join(', ') };
}
