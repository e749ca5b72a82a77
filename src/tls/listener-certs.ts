/**
 * The certificates one client listener serves: a default one (no SNI, or a name nothing else
 * matches) and SNI certificates (`tls.sni-certs`), each for a list of names. Loaded and checked
 * as a whole (src/tls/served-cert.ts), so a reload either gets a complete, valid set or throws
 * and the listener keeps what it has.
 */
import type { ListenerConfig } from '../config/config-types.js';
import { loadClientCa } from './listener-tls-policy.js';
import { CertificateError, loadServedCert, sniMatches, type ServedCert } from './served-cert.js';

export interface SniEntry {
  /** Lowercased names, exact or `*.x`; never empty. A name in two entries is served by the first. */
  names: string[];
  cert: ServedCert;
}

export interface ListenerCerts {
  defaultCert: ServedCert;
  sni: SniEntry[];
  /** `tls.client-ca` bundle (checked: PEM CA certificates); null: client certificates are not asked for. */
  clientCa: Buffer | null;
}

/** `where`: key path of the listener's tls section, e.g. `listeners[0].tls`. */
export function loadListenerCerts(cfg: ListenerConfig, where: string): ListenerCerts {
  const defaultCert = loadServedCert(where, cfg.tls.cert, cfg.tls.key);
  const taken = new Set<string>();
  const sni = cfg.tls.sniCerts.map((c, i): SniEntry => {
    const at = `${where}.sni-certs[${i}]`;
    const cert = loadServedCert(at, c.cert, c.key);
    // Explicit names are unique among themselves (config check); a name in several entries is
    // served by the first (certForName scans in order), so SAN-derived names skip taken ones.
    const names = c.names ?? cert.dnsNames.filter((n) => !taken.has(n));
    if (names.length === 0) {
      throw new CertificateError(c.names === null && cert.dnsNames.length === 0
        ? `${at}: certificate ${c.cert} has no DNS subjectAltName; list the names it serves (names: [...])`
        : `${at}: every DNS name of ${c.cert} is already served by an earlier sni-certs entry; list its names`);
    }
    for (const n of names) taken.add(n);
    return { names, cert };
  });
  const clientCa = cfg.tls.clientCa ? loadClientCa(`${where}.client-ca`, cfg.tls.clientCa) : null;
  return { defaultCert, sni, clientCa };
}

/** The certificate for an SNI name (lowercase it first); null: the default one. */
export function certForName(certs: ListenerCerts, name: string): ServedCert | null {
  for (const e of certs.sni) if (e.names.includes(name)) return e.cert;
  for (const e of certs.sni) if (e.names.some((p) => sniMatches(p, name))) return e.cert;
  return null;
}

/** Every certificate, default first (for /stats and expiry warnings). */
export function allCerts(certs: ListenerCerts): ServedCert[] {
  return [certs.defaultCert, ...certs.sni.map((e) => e.cert)];
}
