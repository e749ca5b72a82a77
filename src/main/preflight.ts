/**
 * The start-up checks `run` makes before anything listens, and `check` makes without starting
 * (issue 12 item 6: `check` refuses exactly what `run` refuses). On a config that passed the
 * loader (schema, cross-checks, files exist and are readable), it reads what the gateway would
 * read at start and reports every problem at once, each with the key path of the file's key:
 *  - every served certificate and key (listeners' `tls` and `sni-certs`, farms' client `tls`):
 *    PEM certificate, usable private key, the key is the certificate's; SNI names derivable;
 *  - every farm CA bundle: at least one PEM certificate, each parsing, accepted by OpenSSL
 *    (a junk bundle used to start a gateway whose servers were all DOWN, naming no file);
 *  - the admin token file: a non-empty first line.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { ConfigIssue, GatewayConfig } from '../config/config-types.js';
import { AdminAuth } from '../admin/admin-auth.js';
import { loadListenerCerts } from '../tls/listener-certs.js';

function read(file: string): Buffer | string {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `cannot read ${file} (${code === 'ENOENT' ? 'file not found' : (code ?? String(err))})`;
  }
}

/** Checks one cert/key pair at `at` (`…tls` or `…sni-certs[i]`); returns the issues found. */
function checkPair(at: string, certFile: string, keyFile: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const certPem = read(certFile);
  const keyPem = read(keyFile);
  let cert: X509Certificate | null = null;
  if (typeof certPem === 'string') issues.push({ path: `${at}.cert`, message: certPem });
  else {
    try {
      cert = new X509Certificate(certPem);
    } catch (err) {
      issues.push({ path: `${at}.cert`, message: `${certFile} is not a PEM certificate (${(err as Error).message})` });
    }
  }
  if (typeof keyPem === 'string') issues.push({ path: `${at}.key`, message: keyPem });
  else {
    try {
      const key = createPrivateKey(keyPem);
      if (cert && !cert.checkPrivateKey(key)) {
        issues.push({ path: `${at}.key`, message: `${keyFile} is not the private key of ${certFile} (certificate and key do not match)` });
      }
    } catch (err) {
      issues.push({ path: `${at}.key`, message: `${keyFile} is not a usable PEM private key (${(err as Error).message})` });
    }
  }
  return issues;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function checkCaBundle(at: string, file: string): ConfigIssue[] {
  const text = read(file);
  if (typeof text === 'string') return [{ path: at, message: text }];
  const blocks = text.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) return [{ path: at, message: `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----): not a CA bundle` }];
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (err) {
      return [{ path: at, message: `${file}: certificate ${i + 1} of ${blocks.length} does not parse (${(err as Error).message})` }];
    }
  }
  try {
    createSecureContext({ ca: text });
  } catch (err) {
    return [{ path: at, message: `${file}: OpenSSL refuses the bundle (${(err as Error).message})` }];
  }
  return [];
}

/** Every problem `run` would refuse to start with; empty: it would start. */
export function preflight(config: GatewayConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.listeners.forEach((l, i) => {
    const at = `listeners[${i}].tls`;
    const found = [
      ...checkPair(at, l.tls.cert, l.tls.key),
      ...l.tls.sniCerts.flatMap((c, j) => checkPair(`${at}.sni-certs[${j}]`, c.cert, c.key)),
    ];
    issues.push(...found);
    if (found.length > 0) return;
    // Pairs are sound: what is left is the SNI name derivation (no DNS SAN, names all taken).
    try {
      loadListenerCerts(l, at);
    } catch (err) {
      const m = /^(\S+): ([\s\S]*)$/.exec((err as Error).message);
      issues.push({ path: m?.[1] ?? at, message: m?.[2] ?? (err as Error).message });
    }
  });
  config.farms.forEach((f, i) => {
    if (f.tls.ca) issues.push(...checkCaBundle(`farms[${i}].tls.ca`, f.tls.ca));
    if (f.tls.cert && f.tls.key) issues.push(...checkPair(`farms[${i}].tls`, f.tls.cert, f.tls.key));
  });
  if (config.admin?.tokenFile) {
    try {
      AdminAuth.fromFile(config.admin.tokenFile);
    } catch (err) {
      issues.push({ path: 'admin.token-file', message: (err as Error).message });
    }
  }
  return issues;
}
