/**
 * SNI certificates on the uws engine: uWS has no SNI accessor and no way to swap a context, so
 * each name gets `addServerName(name, files)` plus the same routes under `domain(name)`.
 *
 * MEASURED (@based/uws 6.0.1, test/integration/sni-certs.test.ts pins it):
 *  - an SNI name with no entry, and a client without SNI, get the SSLApp's default certificate;
 *    names match exactly and case-sensitively, `*.x` matches one more label;
 *  - `addServerName` on a name that exists keeps the old certificate (routes are replaced);
 *    `removeServerName` then `addServerName` in the same turn serves the new certificate to new
 *    connections while open ones go on being served (their SSL keeps its old context);
 *  - after `removeServerName` alone, requests on open connections of that name are never
 *    routed (they hang): a name once registered therefore stays registered, falling back to the
 *    default certificate's files when the config drops it;
 *  - a missing file or a key that does not match makes uWS fall back to the default
 *    certificate silently: files are checked before (src/tls/served-cert.ts).
 * The SSLApp's own default certificate cannot be replaced. So the default certificate is also
 * registered under its own DNS names: clients that send one of them get a reloaded default
 * certificate; clients without SNI (IP address) keep the start-up one until a restart.
 */
import type { TemplatedApp } from '@based/uws';
import type { ListenerCerts } from '../tls/listener-certs.js';
import type { ServedCert } from '../tls/served-cert.js';

export class UwsServerNames {
  private readonly registered = new Set<string>();

  constructor(
    private readonly app: TemplatedApp,
    /** Registers the listener's routes on the app it is given (a domain view of `app`). */
    private readonly route: (app: TemplatedApp) => void,
    /**
     * The listener's TLS 1.2 cipher list (issue 13 item 4). MEASURED: uWS applies the cipher list
     * of the context a name selects, not the app's, so every name needs it too.
     */
    private readonly ciphers: string,
  ) {}

  /** Registers (or re-registers) every name; synchronous, so no request falls between remove and add. */
  apply(certs: ListenerCerts): void {
    const want = new Map<string, ServedCert>();
    for (const e of certs.sni) for (const n of e.names) if (!want.has(n)) want.set(n, e.cert);
    for (const n of certs.defaultCert.dnsNames) if (!want.has(n)) want.set(n, certs.defaultCert);
    for (const n of this.registered) if (!want.has(n)) want.set(n, certs.defaultCert);
    for (const [name, cert] of want) {
      if (this.registered.has(name)) this.app.removeServerName(name);
      this.app.addServerName(name, { cert_file_name: cert.certFile, key_file_name: cert.keyFile, ssl_ciphers: this.ciphers });
      this.route(this.app.domain(name));
      this.registered.add(name);
    }
  }

  names(): string[] {
    return [...this.registered];
  }
}
