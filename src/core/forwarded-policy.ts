/**
 * `forwarded-for` (listener key): what the gateway does with the forwarding headers a client
 * sends (X-Forwarded-For, Forwarded, X-Real-IP, X-Forwarded-Host, X-Forwarded-Proto; issue 15).
 *
 * - `replace` (default): the gateway is the first hop (a branch office): every client-sent
 *   forwarding header is dropped and the gateway's own are set — a client cannot forge them;
 * - `append`: every client is a proxy we trust: its chain is kept and this hop appended;
 * - `trust`: `append` for clients whose address is in `cidrs`, `replace` for every other one.
 *
 * Evaluated per request by src/proxy/forwarded-headers.ts. Lives in core because the front hands
 * it to the proxy on every ProxyRequest (core/types.ts) and config parses it.
 */
export interface TrustedNet {
  /** Network address as written (IPv4 dotted quad or IPv6), already validated. */
  address: string;
  /** Prefix length; 32 / 128 for a single address. */
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export type ForwardedPolicy = { mode: 'replace' } | { mode: 'append' } | { mode: 'trust'; cidrs: readonly TrustedNet[] };

export const DEFAULT_FORWARDED_POLICY: ForwardedPolicy = Object.freeze({ mode: 'replace' });
