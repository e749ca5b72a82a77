/**
 * Who may use a listener (issue 13 item 3): the resolved `listeners[].allow`, `max-conn` and
 * client-certificate settings. Lives in core because config produces it and the front enforces
 * it; the TLS side (what OpenSSL is told) is src/tls/listener-tls-policy.ts.
 */
import type { TrustedNet } from './forwarded-policy.js';

export type ClientVerify = 'required' | 'optional';

export interface ListenerTlsPolicy {
  /** Lowest protocol version accepted (default TLSv1.2). */
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are all forward-secret AEAD). */
  ciphers: string;
  /** CA bundle that client certificates must chain to; null: no client certificate asked. */
  clientCa: string | null;
  /** With clientCa: `required` (no valid certificate, no handshake) or `optional` (none is fine; an invalid one is not). */
  verify: ClientVerify;
  /** Request header that carries the verified client certificate's subject to the farm; null: none. */
  subjectHeader: string | null;
}

export interface ClientAccess {
  /** Client networks allowed to connect; null: everyone. */
  allow: readonly TrustedNet[] | null;
  /** Open client connections at most (HAProxy frontend `maxconn`); excess ones are refused. */
  maxConn: number;
}

/**
 * Forward-secret AEAD suites only (ECDHE + GCM / ChaCha20-Poly1305): Mozilla "intermediate"
 * minus the DHE suites (finite-field DH is slow and needs dhparams). TLS 1.3 suites are not in
 * this list: OpenSSL configures them apart, and all of them are forward-secret AEAD.
 */
export const DEFAULT_LISTENER_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const DEFAULT_LISTENER_TLS_POLICY: Readonly<ListenerTlsPolicy> = Object.freeze({
  minVersion: 'TLSv1.2', ciphers: DEFAULT_LISTENER_CIPHERS, clientCa: null, verify: 'required', subjectHeader: null,
});

/** HAProxy's frontend `maxconn` has no fixed default (it follows the global one); ours is fixed and documented. */
export const DEFAULT_LISTENER_MAX_CONN = 2000;

export const DEFAULT_CLIENT_ACCESS: Readonly<ClientAccess> = Object.freeze({ allow: null, maxConn: DEFAULT_LISTENER_MAX_CONN });

/** A listener's policy with defaults for what a hand-built config (tests, demo) leaves out. */
export function tlsPolicyOf(tls: Partial<ListenerTlsPolicy>): ListenerTlsPolicy {
  return { ...DEFAULT_LISTENER_TLS_POLICY, ...tls };
}
