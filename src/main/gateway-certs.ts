/**
 * Every certificate the gateway presents, checked at start (refuse to start on a missing file or
 * a key that does not belong to its certificate) and described for logs and /stats (expiry
 * warnings: src/tls/served-cert.ts).
 */
import type { GatewayConfig } from '../config/config-types.js';
import { allCerts, loadListenerCerts, type ListenerCerts } from '../tls/listener-certs.js';
import { expiryWarning, loadServedCert, servedCertSummary, type ServedCert } from '../tls/served-cert.js';

export interface GatewayCerts {
  /** Same order as config.listeners. */
  listeners: ListenerCerts[];
  /** Farms' client certificates (mTLS toward the farm). */
  farmClient: ServedCert[];
}

/** Throws CertificateError (naming key path and files) on the first bad pair. */
export function loadGatewayCerts(config: GatewayConfig): GatewayCerts {
  const listeners = config.listeners.map((l, i) => loadListenerCerts(l, `listeners[${i}].tls`));
  const farmClient: ServedCert[] = [];
  config.farms.forEach((f, i) => {
    if (f.tls.cert && f.tls.key) farmClient.push(loadServedCert(`farms[${i}].tls`, f.tls.cert, f.tls.key));
  });
  return { listeners, farmClient };
}

/** Listener certificates read again (SIGHUP); farm client certificates stay as loaded at start. */
/**
 * Certificates for the listeners that are running (`running`: their names, in order), read from
 * `config` — after a config reload, that config may list listeners in another order, add some
 * (they start only after a restart) or drop some (those keep what they serve).
 */
export function reloadListenerCerts(config: GatewayConfig, previous: GatewayCerts, running: readonly string[]): GatewayCerts {
  const index = new Map(config.listeners.map((l, i) => [l.name, i]));
  return {
    listeners: running.map((name, k) => {
      const i = index.get(name);
      return i === undefined ? previous.listeners[k]! : loadListenerCerts(config.listeners[i]!, `listeners[${i}].tls`);
    }),
    farmClient: previous.farmClient,
  };
}

function every(c: GatewayCerts): ServedCert[] {
  return [...c.listeners.flatMap(allCerts), ...c.farmClient];
}

export function certWarnings(c: GatewayCerts, now = Date.now()): string[] {
  return every(c).map((x) => expiryWarning(x, now)).filter((w): w is string => w !== null);
}

export function certReport(c: GatewayCerts, now = Date.now()): Array<Record<string, unknown>> {
  return every(c).map((x) => servedCertSummary(x, now));
}
