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

/** Most requests and responses carry no Connection header: one shared empty set, never mutated. */
const NONE: ReadonlySet<string> = new Set<string>();

function addTokens(out: Set<string>, value: string): void {
  for (const t of value.split(',')) {
    const tok = t.trim().toLowerCase();
    if (tok) out.add(tok);
  }
}
