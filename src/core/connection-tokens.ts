import type { HeaderList } from './types.js';

/**
 * Comma-separated tokens of every `Connection` header, lowercased (RFC 9110 §7.6.1): `close`,
 * `keep-alive`, and the names of further hop-by-hop headers. Shared by the front (does the
 * client want to close?) and the proxy (which headers not to forward).
 */
export function connectionTokens(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | null = null;
  for (const [name, value] of headers) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    out ??= new Set<string>();
    addTokens(out, value);
  }
  return out ?? NONE;
}

/** The same from undici's raw [name, value, …] buffers (no intermediate header list). */
export function connectionTokensRaw(raw: readonly Buffer[]): ReadonlySet<string> {
  let out: Set<string> | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toString('latin1').toLowerCase() !== 'connection') continue;
    out ??= new Set<string>();
    addTokens(out, raw[i + 1]!.toString('latin1'));
  }
  return out ?? NONE;
}

/**
 * Headers a `Connection` token may not remove from a request (issue 15): the gateway frames,
 * routes, retries or identifies the client by them. Such a token is ignored (the header is
 * forwarded as if the token were not there), never answered with 400: `Connection: close, Host`
 * still closes. Hop-by-hop headers stay hop-by-hop whatever the list says.
 */
export const NOT_NAMEABLE_IN_CONNECTION: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'idempotency-key',
  'x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto',
]);

/** `lower` (a lowercased header name) is removed as hop-by-hop because the Connection tokens name it. */
export function namedHopByHop(tokens: ReadonlySet<string>, lower: string): boolean {
  return tokens.size > 0 && tokens.has(lower) && !NOT_NAMEABLE_IN_CONNECTION.has(lower);
}

/** Most requests and responses carry no Connection header: one shared empty set, never mutated. */
const NONE: ReadonlySet<string> = new Set<string>();

function addTokens(out: Set<string>, value: string): void {
  for (const t of value.split(',')) {
    const tok = t.trim().toLowerCase();
    if (tok) out.add(tok);
  }
}
