import type { HeaderList } from './types.js';

/**
 * Comma-separated tokens of every `Connection` header, lowercased (RFC 9110 §7.6.1): `close`,
 * `keep-alive`, and the names of further hop-by-hop headers. Shared by the front (does the
 * client want to close?) and the proxy (which headers not to forward).
 */
export function connectionTokens(headers: HeaderList): Set<string> {
  const out = new Set<string>();
  for (const [name, value] of headers) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const t of value.split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok) out.add(tok);
    }
  }
  return out;
}
