/**
 * The farm `tls` keys that bound pools for names learned from traffic (`sni: host`, issue 11
 * item 3): how many such pools a server keeps, which names may have one, and whether they warm.
 */
import { z } from 'zod';
import { isHostName } from './host-port.js';
import { bool, describe, int, need } from './schema-scalars.js';

/** `name` or `*.name` (the wildcard stands for exactly one label, as in RFC 6125 §6.4.3). */
const allowedName = () =>
  z.string({ error: need('must be a host name or *.domain') }).transform((text, ctx) => {
    const name = text.toLowerCase();
    if (isHostName(name.startsWith('*.') ? name.slice(2) : name)) return name;
    ctx.addIssue({ code: 'custom', message: `must be a host name or *.domain; got ${describe(text)}` });
    return z.NEVER;
  });

export const hostPoolsFields = {
  /** Pools per server for names learned from Host headers, least recently used evicted first. */
  'max-host-pools': int(1).default(64),
  /** Host names that may be sent as SNI; any other Host is answered 421 locally. null: any. */
  'sni-allow': z.array(allowedName(), { error: need('must be a list of host names') }).nullable().default(null),
  /** Warm (min-idle) pools of learned names too; off by default: a client's name never warms. */
  'warm-host-pools': bool().default(false),
};
