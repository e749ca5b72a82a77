/** Host names and `host:port` addresses: parsing, and the schema of an address field. */
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { HostPort } from './config-types.js';
import { need } from './schema-scalars.js';

const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
export function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label)) && isIP(host) === 0;
}

/** `host:port`, `[v6]:port`; port 0 (any free port) only where `allowPortZero`. */
export function parseHostPort(text: string, allowPortZero: boolean): { ok: true; value: HostPort } | { ok: false; message: string } {
  const example = allowPortZero ? '0.0.0.0:8443 or [::1]:8443' : '10.0.0.1:443, api.example.net:443 or [2001:db8::1]:443';
  const bad = (why: string) => ({ ok: false as const, message: `${why} (expected host:port, e.g. ${example})` });
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (v6) {
    [, host, port] = v6 as unknown as [string, string, string];
    if (!isIPv6(host)) return bad(`"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return bad(`"${text}" has no port`);
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (host.includes(':')) return bad(`IPv6 addresses must be in brackets, e.g. [${host}]:${port}`);
    if (host === '') return bad(`"${text}" has no host`);
    if (isIP(host) === 0 && !isHostName(host)) return bad(`"${host}" is not a valid host name or IPv4 address`);
  }
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= (allowPortZero ? 0 : 1) && n <= 65535)) return bad(`"${port}" is not a valid port (${allowPortZero ? 0 : 1}-65535)`);
  return { ok: true, value: { host, port: n } };
}

export const hostPort = (allowPortZero: boolean) =>
  z.string({ error: need('must be host:port') }).transform((text, ctx) => {
    const r = parseHostPort(text.trim(), allowPortZero);
    if (!r.ok) { ctx.addIssue({ code: 'custom', message: r.message }); return z.NEVER; }
    return r.value;
  });
