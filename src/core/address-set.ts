/**
 * A set of networks (the listener's `allow`, the `forwarded-for: trust` list) and the address
 * normalisation both need. Built once per config object, checked per connection or request.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { TrustedNet } from './forwarded-policy.js';

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) → `10.1.2.3`. */
export function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') && isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}

export class AddressSet {
  readonly #list = new BlockList();

  constructor(nets: readonly TrustedNet[]) {
    for (const n of nets) this.#list.addSubnet(n.address, n.prefix, n.family);
  }

  /** `addr` as a socket reports it; anything that is not an IP address is outside. */
  has(addr: string | undefined): boolean {
    if (!addr) return false;
    const plain = plainAddress(addr);
    if (isIPv4(plain)) return this.#list.check(plain, 'ipv4');
    if (isIPv6(plain)) return this.#list.check(plain, 'ipv6');
    return false;
  }
}
