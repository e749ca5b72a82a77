import { connectionTokens, connectionTokensRaw } from '../core/connection-tokens.js';
import type { HeaderList } from '../core/types.js';

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
}

/**
 * Request headers for the server, as undici's flat [name, value, …] array: hop-by-hop removed,
 * `X-Forwarded-For` appended with the client address (one header, comma list, RFC 7239 style
 * chaining), `X-Forwarded-Proto: https` (the client spoke TLS to us).
 */
export function upstreamRequestHeaders(headers: HeaderList, opts: UpstreamHeadOptions): string[] {
  const named = connectionTokens(headers);
  const out: string[] = [];
  let xff: string | null = null;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (HOP.has(lower) || named.has(lower)) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === null ? value : `${xff}, ${value}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') continue;
    if (lower === 'content-length' && !opts.keepContentLength) continue;
    out.push(name, value);
  }
  out.push('x-forwarded-for', xff === null ? opts.remoteAddress : `${xff}, ${opts.remoteAddress}`);
  out.push('x-forwarded-proto', 'https');
  return out;
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
 * the front's framing. Repeated headers (Set-Cookie) stay separate entries.
 */
export function downstreamResponseHead(raw: Buffer[]): DownstreamHead {
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
  return { headers, contentLength, serverClose, keepAliveHintMs };
}
