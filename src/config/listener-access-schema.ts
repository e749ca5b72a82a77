/**
 * `listeners[].allow`, `listeners[].max-conn` and the TLS policy keys of `listeners[].tls`
 * (issue 13 items 3 and 4). What each does: src/core/client-access-policy.ts; defaults and
 * reasons: README "Configuration reference".
 */
import { z } from 'zod';
import { DEFAULT_LISTENER_CIPHERS } from '../core/client-access-policy.js';
import type { TrustedNet } from '../core/forwarded-policy.js';
import { cipherList } from './cipher-list.js';
import { parseCidr } from './forwarded-schema.js';
import { describe, filePath, int, need, oneOf } from './schema-scalars.js';

/** `allow: [CIDR…]`; absent: everyone. An empty list would lock everyone out: refused. */
export const allowSchema = () =>
  z.array(z.unknown(), { error: need('must be a list of addresses or CIDRs') }).optional().transform((items, ctx): TrustedNet[] | null => {
    if (items === undefined) return null;
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must list at least one address or CIDR (leave allow out to accept every client)' });
      return z.NEVER;
    }
    const out: TrustedNet[] = [];
    items.forEach((item, i) => {
      const r = typeof item === 'string' ? parseCidr(item) : `must be an address or CIDR, got ${describe(item)}`;
      if (typeof r === 'string') ctx.addIssue({ code: 'custom', path: [i], message: r });
      else out.push(r);
    });
    return out;
  });

/** Optional in the file (the default is applied in to-gateway-config.ts) so cross-checks see whether it was set. */
export const maxConnSchema = () => int(1, 1_000_000).optional();

const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The TLS policy keys, spread into the listener's `tls` object schema. */
export const listenerTlsPolicyKeys = {
  'min-version': oneOf(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  ciphers: cipherList().default(DEFAULT_LISTENER_CIPHERS),
  'client-ca': filePath().nullable().default(null),
  verify: oneOf(['required', 'optional']).default('required'),
  'client-subject-header': z.string({ error: need('must be a header name') })
    .regex(HEADER_TOKEN, { error: 'must be a header name (RFC 9110 token characters)' })
    .transform((s) => s.toLowerCase())
    .nullable()
    .default(null),
};
