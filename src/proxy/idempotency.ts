import type { HeaderList } from '../core/types.js';

/** RFC 9110 §9.2.2 idempotent methods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * May this request be sent twice? Idempotent methods, or any request that carries an
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the server deduplicates it.
 */
export function isIdempotent(method: string, headers: HeaderList): boolean {
  if (IDEMPOTENT.has(method)) return true;
  for (const [name] of headers) if (name.length === 15 && name.toLowerCase() === 'idempotency-key') return true;
  return false;
}
