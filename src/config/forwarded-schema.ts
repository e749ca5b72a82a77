/**
 * `listeners[].forwarded-for`: `replace` (default) | `append` | `trust <CIDR list>`
 * (src/core/forwarded-policy.ts says what each does). The trusted list is written either inline,
 * `trust 10.0.0.0/8, 192.168.7.2`, or as a mapping `{ trust: [10.0.0.0/8, 192.168.7.2] }`.
 * A bare address means that one address (/32, /128).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { ForwardedPolicy, TrustedNet } from '../core/forwarded-policy.js';
import { describe } from './schema-scalars.js';

const SHAPE = 'must be replace, append, "trust <CIDR list>" or { trust: [CIDR, …] }';

/** One `address[/prefix]`, or why not. */
export function parseCidr(text: string): TrustedNet | string {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return `"${text}" is not an address or CIDR`;
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (!family) return `"${text}" is not an IPv4 or IPv6 address or CIDR`;
  const max = family === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) return `"${text}": prefix must be 0 to ${max}`;
  return { address, prefix: Number(prefixText), family };
}

/** `pathPrefix` null: the inline form (issues are reported on the key itself). */
function trustList(items: unknown[], ctx: z.RefinementCtx, pathPrefix: Array<string | number> | null): ForwardedPolicy {
  const cidrs: TrustedNet[] = [];
  items.forEach((item, i) => {
    const r = typeof item === 'string' ? parseCidr(item) : `must be an address or CIDR, got ${describe(item)}`;
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', path: pathPrefix === null ? [] : [...pathPrefix, i], message: r });
    else cidrs.push(r);
  });
  if (items.length === 0) ctx.addIssue({ code: 'custom', path: pathPrefix ?? [], message: 'trust needs at least one address or CIDR' });
  return { mode: 'trust', cidrs };
}

export const forwardedForSchema = () =>
  z.unknown().optional().transform((input, ctx): ForwardedPolicy => {
    if (input === undefined || input === 'replace') return { mode: 'replace' };
    if (input === 'append') return { mode: 'append' };
    if (typeof input === 'string' && /^trust(\s|$)/.test(input)) {
      const items = input.slice(5).split(/[\s,]+/).filter(Boolean);
      return trustList(items, ctx, null);
    }
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
      const keys = Object.keys(input);
      const trust = (input as Record<string, unknown>).trust;
      if (keys.length === 1 && Array.isArray(trust)) return trustList(trust, ctx, ['trust']);
    }
    ctx.addIssue({ code: 'custom', message: `${SHAPE}, got ${describe(input)}` });
    return z.NEVER;
  });
