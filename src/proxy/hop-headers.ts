import { connectionTokens, connectionTokensRaw, namedHopByHop } from '../core/connection-tokens.js';
import type { HeaderRules } from '../config/config-types.js';
import type { ForwardedPolicy } from '../core/forwarded-policy.js';
import type { HeaderList } from '../core/types.js';
import { FORWARDING_HEADERS, forwardingHeaders } from './forwarded-headers.js';
import { applyRequestRules, applyResponseRules } from './header-rules.js';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), plus `Proxy-Connection` (legacy) and `Expect`
 * (100-continue is answered at the front; the server gets the body straight away).
 * `Host` is end-to-end and always kept.
 */
const HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'expect']);

export interface UpstreamHeadOptions {
  remoteAddress: string;
  /** Keep Content-Length (a body of known length follows). */
  keepContentLength: boolean;
  /** The listener's `forwarded-for` policy; absent: replace (forwarded-headers.ts). */
  forwarded?: ForwardedPolicy | undefined;
  /**
   * The Host to send instead of the client's (the farm's `host-header`, balancer/host-header.ts
   * upstreamHost); absent: the client's Host is kept. When it differs from the client's Host, the
   * client's goes in X-Forwarded-Host (forwarded-headers.ts `forwardedHost`; issue 13).
   */
  host?: string | undefined;
  /** The farm's `request-headers` rules, applied last (header-rules.ts). */
  rules?: HeaderRules | undefined;
}

/**
 * Request headers for the server, as undici's flat [name, value, …] array: hop-by-hop removed
 * (a `Connection` token cannot remove Host, Content-Length or the other headers of
 * NOT_NAMEABLE_IN_CONNECTION), the forwarding headers set per the `forwarded-for` policy
 * (forwarded-headers.ts: by default only this hop's X-Forwarded-For and X-Forwarded-Proto).
 * Content-Length, when kept, is sent once with its digits only: the front checked that every
 * copy has the same value, and undici refuses a repeated or padded one (a client fault that
 * must never reach the backend codec, issue 11 item 2).
 */
export function upstreamRequestHeaders(headers: HeaderList, opts: UpstreamHeadOptions): string[] {
  const named = connectionTokens(headers);
  const out: string[] = [];
  let lengthSent = false;
  let clientHost: string | undefined;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (HOP.has(lower) || namedHopByHop(named, lower) || FORWARDING_HEADERS.has(lower)) continue;
    if (lower === 'host') {
      // The front admits exactly one Host (RFC 9112 §3.2); it keeps its place in the list.
      clientHost ??= value;
      out.push(name, opts.host ?? value);
      continue;
    }
    if (lower === 'content-length') {
      if (!opts.keepContentLength || lengthSent) continue;
      lengthSent = true;
      out.push(name, value.trim());
      continue;
    }
    out.push(name, value);
  }
  if (clientHost === undefined && opts.host !== undefined) out.push('host', opts.host);
  const rewritten = opts.host !== undefined && clientHost !== undefined && opts.host.toLowerCase() !== clientHost.toLowerCase();
  const fwd = forwardingHeaders(headers, { policy: opts.forwarded, peer: opts.remoteAddress, forwardedHost: rewritten ? clientHost : undefined });
  for (const v of fwd) out.push(v);
  return applyRequestRules(out, opts.rules);
}

export interface DownstreamHead {
  headers: HeaderList;
  /** Content-Length of the body, null when unknown (chunked or close-delimited). */
  contentLength: number | null;
  /** The server asked to close this connection (Connection: close). */
  serverClose: boolean;
  /** `Keep-Alive: timeout=N` in ms, if the server sent one. */
  keepAliveHintMs: number | null;
}

/**
 * Response headers for the client from undici's raw header buffers: hop-by-hop removed, `Date`
 * dropped (both front engines add their own, uWS and node:http alike), framing headers left to
 * the front's framing, then the farm's `response-headers` rules (header-rules.ts; they cannot
 * name framing or hop-by-hop headers). Repeated headers (Set-Cookie) stay separate entries.
 */
export function downstreamResponseHead(raw: Buffer[], rules?: HeaderRules): DownstreamHead {
  const named = connectionTokensRaw(raw);
  const headers: HeaderList = [];
  let contentLength: number | null = null;
  let chunked = false;
  let serverClose = false;
  let keepAliveHintMs: number | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const value = raw[i + 1]!.toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      if (/(^|,)\s*close\s*(,|$)/i.test(value)) serverClose = true;
      continue;
    }
    if (lower === 'keep-alive') {
      const m = /timeout\s*=\s*(\d+)/i.exec(value);
      if (m) keepAliveHintMs = Number(m[1]) * 1000;
      continue;
    }
    if (lower === 'transfer-encoding') {
      chunked = true;
      continue;
    }
    if (lower === 'content-length') {
      contentLength = Number(value.trim());
      continue;
    }
    if (HOP.has(lower) || named.has(lower) || lower === 'date') continue;
    headers.push([name, value]);
  }
  // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
  if (chunked) contentLength = null;
  return { headers: applyResponseRules(headers, rules), contentLength, serverClose, keepAliveHintMs };
}
