/**
 * The door of a client listener (issue 13 item 3), the same for both engines:
 *
 * - `allow`: a client whose address is outside every listed network has its TCP connection
 *   closed at accept, before any TLS byte. Why not a 403: answering needs a full TLS handshake
 *   first, which costs CPU per probe and shows the gateway's certificate (its farm-facing name)
 *   to anyone who can reach the port; closing at once tells a stranger nothing.
 * - `max-conn`: client connections above it are closed at accept (the process never runs out of
 *   descriptors; HAProxy would let them wait in the kernel's backlog instead — node cannot pause
 *   accepting per listener without closing it).
 * - `client-subject-header`: whatever a client sent under that name is dropped, and the verified
 *   certificate subject (if any) is set, so the farm can trust the header.
 */
import { AddressSet } from '../core/address-set.js';
import { DEFAULT_CLIENT_ACCESS, type ClientAccess } from '../core/client-access-policy.js';
import type { HeaderList } from '../core/types.js';

export class ClientGate {
  readonly maxConn: number;
  readonly #allow: AddressSet | null;

  constructor(access: ClientAccess = DEFAULT_CLIENT_ACCESS) {
    this.maxConn = access.maxConn;
    this.#allow = access.allow === null ? null : new AddressSet(access.allow);
  }

  /** `addr` as the socket reports it (an IPv4 client on a dual-stack socket reads `::ffff:a.b.c.d`). */
  admits(addr: string | undefined): boolean {
    return this.#allow === null || this.#allow.has(addr);
  }
}

/** The request headers with `name` (lowercase) dropped and, when `subject` is known, set to it. */
export function withClientSubject(headers: HeaderList, name: string | null, subject: string | null): HeaderList {
  if (name === null) return headers;
  const out = headers.filter(([n]) => n.toLowerCase() !== name);
  // A subject can hold any UTF-8; header values carry latin1 bytes safely only when they are
  // printable ASCII, so anything else is percent-encoded (RFC 3986 style).
  if (subject !== null) out.push([name, subject.replace(/[^\x20-\x7e]|%/g, (c) => encodeURIComponent(c))]);
  return out;
}
