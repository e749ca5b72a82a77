/**
 * `farms[].request-headers` and `farms[].response-headers` (issue 13 item 1): small declarative
 * header rules, applied after hop-by-hop handling (src/proxy/header-rules.ts):
 *
 *   request-headers:  { set: { X-Env: prod }, add: { X-Tag: [a, b] }, remove: [X-Debug] }
 *   response-headers: { remove: [Server, X-Powered-By] }
 *
 * Names must be HTTP tokens (RFC 9110 §5.1); values may hold HTAB, visible ASCII and obs-text
 * only (no CR, LF, NUL or other control byte: the same byte rule the front applies to every
 * header it writes, front-common.ts BAD_HEADER_VALUE_RE). Headers the gateway itself owns —
 * framing, hop-by-hop, Host (see `host-header`) and the forwarding headers (`forwarded-for`) —
 * cannot be named: a rule would silently fight the code that sets them.
 */
import { z } from 'zod';
import type { HeaderRules } from './config-types.js';
import { describe, need } from './schema-scalars.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'expect', 'content-length'];
const FORWARDING = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto'];
const RESERVED = {
  request: new Set([...HOP, 'host', ...FORWARDING]),
  response: new Set(HOP),
};
const RESERVED_WHY = (side: 'request' | 'response', lower: string): string =>
  lower === 'host'
    ? 'Host is set by host-header'
    : FORWARDING.includes(lower) && side === 'request'
      ? `${lower} is set by the listener's forwarded-for policy`
      : `${lower} is a framing or hop-by-hop header the gateway manages`;

function checkName(side: 'request' | 'response', name: string, ctx: z.RefinementCtx, path: Array<string | number>): boolean {
  if (!TOKEN.test(name)) {
    ctx.addIssue({ code: 'custom', path, message: `"${name}" is not a valid header name (HTTP token characters only)` });
    return false;
  }
  if (RESERVED[side].has(name.toLowerCase())) {
    ctx.addIssue({ code: 'custom', path, message: `cannot be changed by a rule: ${RESERVED_WHY(side, name.toLowerCase())}` });
    return false;
  }
  return true;
}

function checkValue(value: unknown, ctx: z.RefinementCtx, path: Array<string | number>): string | null {
  if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
  if (typeof value !== 'string') {
    ctx.addIssue({ code: 'custom', path, message: `must be a string, got ${describe(value)}` });
    return null;
  }
  if (BAD_VALUE.test(value)) {
    ctx.addIssue({ code: 'custom', path, message: 'must not contain CR, LF, NUL or other control characters' });
    return null;
  }
  return value.trim();
}

const mapping = () => z.record(z.string(), z.unknown(), { error: need('must be a mapping of header name to value') });

export const headerRulesSchema = (side: 'request' | 'response') =>
  z
    .strictObject({
      set: mapping().optional(),
      add: mapping().optional(),
      remove: z.array(z.string({ error: need('must be a header name') }), { error: need('must be a list of header names') }).optional(),
    })
    .transform((r, ctx): HeaderRules => {
      const set: Array<[string, string]> = [];
      const add: Array<[string, string]> = [];
      const remove: string[] = [];
      for (const [name, value] of Object.entries(r.set ?? {})) {
        if (!checkName(side, name, ctx, ['set', name])) continue;
        const v = checkValue(value, ctx, ['set', name]);
        if (v !== null) set.push([name, v]);
      }
      for (const [name, value] of Object.entries(r.add ?? {})) {
        if (!checkName(side, name, ctx, ['add', name])) continue;
        const values = Array.isArray(value) ? value : [value];
        values.forEach((item, i) => {
          const v = checkValue(item, ctx, Array.isArray(value) ? ['add', name, i] : ['add', name]);
          if (v !== null) add.push([name, v]);
        });
      }
      (r.remove ?? []).forEach((name, i) => {
        if (checkName(side, name, ctx, ['remove', i])) remove.push(name.toLowerCase());
      });
      return { set, add, remove };
    });
