/**
 * `host-header` (issue 13 item 1): the Host a farm's servers are sent — the same for live traffic
 * (src/proxy/hop-headers.ts) and for health checks (health-check.ts), so a check proves what
 * traffic will see. It lives in the balancer layer because both of those use it.
 *
 *   host-header   tls.sni fixed / address-with-name      tls.sni host          tls.sni none / address-is-IP
 *   sni (default) the SNI (+ ":port" when port ≠ 443)    client's Host (= SNI)  client's Host
 *   keep          client's Host                          client's Host          client's Host
 *   <literal>     the literal                            the literal            the literal
 *
 * Why `sni` is the default: clients address the gateway by its own name or IP
 * (`Host: gw.branch.local:8443`) while the farm is reached by a fixed SNI. Servers that check
 * Host against SNI (Jetty 12: 400 "Invalid SNI") refuse every request when the two differ, and
 * virtual-host routing misroutes; HAProxy users write `http-request set-header Host` for exactly
 * this. With `sni: host` the SNI already comes from Host, so nothing needs rewriting; with
 * `sni: none` there is no name to copy (an explicit `host-header: sni` is then a config error).
 * Whenever Host is rewritten, the client's Host is sent in X-Forwarded-Host
 * (src/proxy/forwarded-headers.ts).
 */
import type { FarmTlsConfig, HostHeaderRule } from '../config/config-types.js';

/** host[:port] for an authority; the port is left out when it is the https default. */
export function authority(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port === 443 ? h : `${h}:${port}`;
}

/**
 * The Host to send to a server, or `undefined` to send the client's own Host unchanged.
 * `sni`: the SNI of the connection the request rides (BackendServer.sniFor).
 */
export function upstreamHost(rule: HostHeaderRule | undefined, sniKind: FarmTlsConfig['sni']['kind'], sni: string | null, port: number): string | undefined {
  const r = rule ?? { kind: 'sni' };
  if (r.kind === 'literal') return r.value;
  if (r.kind === 'keep' || sniKind === 'host' || sni === null) return undefined;
  return authority(sni, port);
}

/**
 * The Host of a health check: what traffic would get, or — when traffic keeps the client's Host,
 * which a check does not have — the SNI, else the server's address host.
 */
export function checkHost(rule: HostHeaderRule | undefined, sniKind: FarmTlsConfig['sni']['kind'], sni: string | null, host: string, port: number): string {
  return upstreamHost(rule, sniKind, sni, port) ?? authority(sni ?? host, port);
}
