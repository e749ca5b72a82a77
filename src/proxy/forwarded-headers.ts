/**
 * The forwarding headers a request carries to its server — X-Forwarded-For, Forwarded (RFC 7239),
 * X-Real-IP, X-Forwarded-Host, X-Forwarded-Proto — under the listener's `forwarded-for` policy
 * (src/core/forwarded-policy.ts; issue 15 "Headers a client cannot forge or strip").
 *
 *   header              replace (default; untrusted peer)      append / trusted peer
 *   X-Forwarded-For     <peer>                                  <client's list>, <peer>
 *   Forwarded           dropped                                 <client's list>, for=<peer>;proto=https (only if the client sent one)
 *   X-Real-IP           dropped                                 the client's, as sent
 *   X-Forwarded-Proto   https                                   the client's if sent, else https
 *   X-Forwarded-Host    `forwardedHost` if given, else dropped  the client's if sent, else `forwardedHost` if given
 *
 * Interface: callers drop every FORWARDING_HEADERS name from the client's list and append
 * `forwardingHeaders(...)`; `upstreamRequestHeaders` (hop-headers.ts) does both. The Host rewrite
 * of issue 13 (`host-header`, balancer/host-header.ts) hands the client's Host in as
 * `forwardedHost` exactly when the Host sent differs from it, so a server always sees the name
 * the client asked for — in X-Forwarded-Host under `replace`, or the trusted chain's own.
 */
import { isIPv6 } from 'node:net';
import { AddressSet, plainAddress } from '../core/address-set.js';
import { DEFAULT_FORWARDED_POLICY, type ForwardedPolicy } from '../core/forwarded-policy.js';
import type { HeaderList } from '../core/types.js';

export { plainAddress } from '../core/address-set.js';

/** Lowercased names of the headers this module owns. */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set(['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto']);

export interface ForwardingContext {
  /** The listener's policy; absent: replace. */
  policy?: ForwardedPolicy | undefined;
  /** The client's socket address (what the front reports as remoteAddress). */
  peer: string;
  /**
   * X-Forwarded-Host to send when the client sent none or is not trusted: the Host the client
   * asked for, when the gateway rewrites Host (issue 13). Absent: no X-Forwarded-Host of our own.
   */
  forwardedHost?: string | undefined;
}

/** Built once per policy object (the config is frozen; a reload makes new objects). */
const trustSets = new WeakMap<object, AddressSet>();

/** The peer may hand us its own forwarding headers: `append`, or `trust` with the peer in the list. */
export function trustsPeer(policy: ForwardedPolicy | undefined, peer: string): boolean {
  const p = policy ?? DEFAULT_FORWARDED_POLICY;
  if (p.mode === 'replace') return false;
  if (p.mode === 'append') return true;
  let set = trustSets.get(p);
  if (!set) {
    set = new AddressSet(p.cidrs);
    trustSets.set(p, set);
  }
  return set.has(peer);
}

/** RFC 7239 §6: IPv6 node names are bracketed and quoted. */
function forwardedNode(addr: string): string {
  return isIPv6(addr) ? `"[${addr}]"` : addr;
}

/** Flat [name, value, …] forwarding headers for the server (see the table above). */
export function forwardingHeaders(clientHeaders: HeaderList, ctx: ForwardingContext): string[] {
  const peer = plainAddress(ctx.peer);
  const out: string[] = [];
  if (!trustsPeer(ctx.policy, ctx.peer)) {
    out.push('x-forwarded-for', peer, 'x-forwarded-proto', 'https');
    if (ctx.forwardedHost !== undefined) out.push('x-forwarded-host', ctx.forwardedHost);
    return out;
  }
  let xff: string | null = null;
  let fwd: string | null = null;
  let proto: string | null = null;
  let host: string | null = null;
  const realIp: string[] = [];
  for (const [name, value] of clientHeaders) {
    const lower = name.toLowerCase();
    if (!FORWARDING_HEADERS.has(lower)) continue;
    // Lists (RFC 9110 §5.3): several lines are one comma-separated value.
    if (lower === 'x-forwarded-for') xff = xff === null ? value : `${xff}, ${value}`;
    else if (lower === 'forwarded') fwd = fwd === null ? value : `${fwd}, ${value}`;
    else if (lower === 'x-real-ip') realIp.push(value);
    else if (lower === 'x-forwarded-proto') proto ??= value;
    else host ??= value;
  }
  out.push('x-forwarded-for', xff === null ? peer : `${xff}, ${peer}`);
  if (fwd !== null) out.push('forwarded', `${fwd}, for=${forwardedNode(peer)};proto=https`);
  for (const v of realIp) out.push('x-real-ip', v);
  out.push('x-forwarded-proto', proto ?? 'https');
  const h = host ?? ctx.forwardedHost;
  if (h !== undefined) out.push('x-forwarded-host', h);
  return out;
}
