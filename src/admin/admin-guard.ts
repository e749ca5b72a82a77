/**
 * Cross-site protections of the admin listener (issue 15 item 5), checked before any route:
 *  - DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1 reaches
 *    the admin listener with `Host: evil.example`. Only names of this listener are accepted:
 *    its bind address, loopback addresses, `localhost`, the machine's own addresses when bound
 *    to a wildcard, and `admin.hosts` — with no port or the listener's port. Else 421.
 *  - Cross-site forms: a browser sends a cross-site POST without a CORS preflight only for the
 *    "simple" types (text/plain, form encodings); requiring `application/json` on every mutating
 *    route makes any such request a 415 before it changes anything.
 */
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../config/admin-log-schema.js';
import type { HostPort } from '../config/config-types.js';
import { AdminError } from './admin-routes.js';

export class AdminGuard {
  readonly #names: Set<string>;

  constructor(
    bind: HostPort,
    extraHosts: readonly string[],
    private readonly port: () => number,
  ) {
    const names = new Set<string>(['localhost', '127.0.0.1', '::1', ...extraHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, ''))]);
    const wildcard = bind.host === '0.0.0.0' || bind.host === '::';
    if (wildcard) {
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.toLowerCase());
    } else {
      names.add(bind.host.toLowerCase());
    }
    this.#names = names;
  }

  /** Throws 421 unless `Host` names this listener (RFC 9110 §15.5.20: misdirected request). */
  checkHost(req: IncomingMessage): void {
    const host = req.headers.host;
    if (host === undefined) throw new AdminError(421, 'bad_host', 'request has no Host header');
    const parsed = splitHost(host);
    const port = this.port();
    const ok =
      parsed !== null &&
      (this.#names.has(parsed.name) || (isIP(parsed.name) !== 0 && isLoopbackHost(parsed.name))) &&
      (parsed.port === null || parsed.port === port);
    if (!ok) throw new AdminError(421, 'bad_host', `Host "${host}" does not name this admin listener (add it to admin.hosts)`);
  }

  /** Throws 415 unless a mutating request says `Content-Type: application/json`. */
  static checkJson(req: IncomingMessage): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new AdminError(415, 'unsupported_media_type', `send the body as Content-Type: application/json (got ${type === '' ? 'none' : JSON.stringify(type)})`);
    }
  }
}

function splitHost(host: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!m) return null;
  return { name: m[1]!.replace(/^\[|\]$/g, '').toLowerCase(), port: m[2] === undefined ? null : Number(m[2]) };
}
