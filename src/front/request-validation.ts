/**
 * Engine-neutral checks on a request head the front has already copied out of its engine.
 *
 * uWebSockets.js (the default engine) lets through things a gateway must not forward (measured,
 * design.md "uWebSockets.js gaps"): two different Content-Length values, an empty
 * Content-Length, any Transfer-Encoding that merely *contains* "chunked", invalid method tokens.
 * node:http's strict parser rejects most of these itself; running the same checks there too keeps
 * the two engines' behaviour one table (test/unit/front/front-table.test.ts).
 *
 * A failed check is answered by the front with the returned status, `Connection: close`, and the
 * client connection is closed so nothing pipelined behind the bad request is served.
 */
import type { HeaderList } from '../core/types.js';
import { BAD_HEADER_VALUE_RE, TOKEN_RE } from './front-common.js';

export interface RequestHead {
  method: string;
  /** request-target as received (path + query). */
  target: string;
  httpVersion: '1.0' | '1.1';
  headers: HeaderList;
}

export interface Rejection {
  /** 400 for every malformed request; 417 for an Expect other than 100-continue. */
  status: number;
  /** Short text for the response body and the log. */
  reason: string;
}

/** Largest Content-Length accepted (beyond it arithmetic on lengths stops being exact). */
const MAX_CONTENT_LENGTH = Number.MAX_SAFE_INTEGER;
const DIGITS_RE = /^[0-9]+$/;
/** request-target characters: visible ASCII and obs-text (undici refuses CTL, SP and > 0xFF; DEL is refused too). */
const BAD_TARGET_RE = /[^\x21-\x7e\x80-\xff]/;
/** absolute-form (RFC 9112 §3.2.2): scheme, authority, the rest. */
const ABSOLUTE_RE = /^(https?):\/\/([^/?#]*)(.*)$/i;

/**
 * Returns null when the request may be forwarded, otherwise the rejection to answer with.
 *
 * - method: an RFC 9110 token;
 * - request-target: origin-form (`/…`), or `*` for OPTIONS only; no whitespace or control chars;
 * - header names: non-empty tokens; values: no CR, LF or NUL;
 * - Content-Length: every value 1*DIGIT (OWS trimmed), all values equal;
 * - Transfer-Encoding: if present, exactly one header whose value is exactly `chunked`
 *   (case-insensitive, trimmed) — anything else (`xchunked`, `identity`, `chunked, gzip`, two
 *   headers) is refused rather than guessed at;
 * - Transfer-Encoding together with Content-Length: refused (RFC 9112 §6.3: a server MAY process
 *   it, but a proxy must not forward it; we answer 400);
 * - HTTP/1.1: exactly one Host header (RFC 9112 §3.2). With uWS this also catches an empty header
 *   name placed before Host, which hides every later header from uWS's `forEach`;
 * - HTTP/1.0: no Transfer-Encoding (RFC 9112 §6.1: faulty framing), at most one Host;
 * - Expect: only `100-continue` (else 417, RFC 9110 §10.1.1).
 */
export function validateRequest(head: RequestHead): Rejection | null {
  if (!TOKEN_RE.test(head.method)) return { status: 400, reason: 'invalid method token' };

  const t = head.target;
  if (t.length === 0 || BAD_TARGET_RE.test(t)) return { status: 400, reason: 'invalid request-target' };
  if (t === '*') {
    if (head.method !== 'OPTIONS') return { status: 400, reason: 'asterisk-form is only allowed for OPTIONS' };
  } else if (t.charCodeAt(0) !== 0x2f /* / */) {
    return { status: 400, reason: 'request-target must be origin-form' };
  }

  let contentLength: string | null = null;
  let teCount = 0;
  let teValue = '';
  let hostCount = 0;
  for (const [name, value] of head.headers) {
    if (name.length === 0) return { status: 400, reason: 'empty header name' };
    if (!TOKEN_RE.test(name)) return { status: 400, reason: 'invalid header name' };
    if (BAD_HEADER_VALUE_RE.test(value)) return { status: 400, reason: 'invalid character in header value' };
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      const v = value.trim();
      if (!DIGITS_RE.test(v)) return { status: 400, reason: 'invalid Content-Length' };
      // Compare numerically: "05" and "5" are the same length.
      const canonical = String(Number(v));
      if (Number(v) > MAX_CONTENT_LENGTH) return { status: 400, reason: 'Content-Length too large' };
      if (contentLength !== null && contentLength !== canonical) return { status: 400, reason: 'conflicting Content-Length headers' };
      contentLength = canonical;
    } else if (lower === 'transfer-encoding') {
      teCount++;
      teValue = value;
    } else if (lower === 'host') {
      hostCount++;
    } else if (lower === 'expect') {
      if (value.trim().toLowerCase() !== '100-continue') return { status: 417, reason: 'unsupported expectation' };
    }
  }
  if (teCount > 0) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    if (head.httpVersion === '1.0') return { status: 400, reason: 'Transfer-Encoding in an HTTP/1.0 request' };
    if (teCount > 1) return { status: 400, reason: 'more than one Transfer-Encoding header' };
    if (teValue.trim().toLowerCase() !== 'chunked') return { status: 400, reason: 'unsupported Transfer-Encoding' };
    if (contentLength !== null) return { status: 400, reason: 'both Transfer-Encoding and Content-Length' };
  }
  if (head.httpVersion === '1.1' && hostCount !== 1) {
    return { status: 400, reason: hostCount === 0 ? 'missing Host header' : 'more than one Host header' };
  }
  // HTTP/1.0 may omit Host, never repeat it (undici refuses a duplicate, RFC 9110 §7.2).
  if (hostCount > 1) return { status: 400, reason: 'more than one Host header' };
  return null;
}

const withoutDefaultPort = (authority: string, scheme: string): string => {
  const a = authority.toLowerCase();
  const port = scheme === 'https' ? ':443' : ':80';
  return a.endsWith(port) ? a.slice(0, -port.length) : a;
};

/**
 * absolute-form → origin-form (RFC 9112 §3.2.2: a server MUST accept it; the backend codec
 * sends origin-form). The authority must agree with Host when Host is present (else 400: two
 * different answers to "which host?" is how requests are routed past a check); HTTP/1.0 without
 * Host gets the authority as Host. userinfo is refused (RFC 9110 §4.2.4). Other targets are
 * returned unchanged (validateRequest judges them).
 */
export function toOriginForm(head: RequestHead): RequestHead | Rejection {
  const m = ABSOLUTE_RE.exec(head.target);
  if (!m) return head;
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  if (authority.length === 0 || authority.includes('@')) return { status: 400, reason: 'invalid authority in absolute-form target' };
  const rest = m[3]!;
  const target = rest.startsWith('/') ? rest : `/${rest}`;
  const hosts = head.headers.filter(([n]) => n.length === 4 && n.toLowerCase() === 'host');
  if (hosts.length === 0) {
    if (head.httpVersion === '1.1') return { ...head, target };
    return { ...head, target, headers: [['Host', authority], ...head.headers] };
  }
  if (hosts.some(([, v]) => withoutDefaultPort(v.trim(), scheme) !== withoutDefaultPort(authority, scheme))) {
    return { status: 400, reason: 'Host does not match the absolute-form target' };
  }
  return { ...head, target };
}

/** Body framing of a request that passed validateRequest. */
export interface BodyFraming {
  /** A body follows (Content-Length present, or chunked). */
  hasBody: boolean;
  /** Declared length, null for chunked (or no body). */
  length: number | null;
  chunked: boolean;
}

export function bodyFraming(headers: HeaderList): BodyFraming {
  let length: number | null = null;
  let chunked = false;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') length = Number(value.trim());
    else if (lower === 'transfer-encoding') chunked = true;
  }
  if (chunked) return { hasBody: true, length: null, chunked: true };
  return { hasBody: length !== null, length, chunked: false };
}

/** Drop `Expect` (answered at the front; the proxy strips it too). */
export function withoutExpect(headers: HeaderList): HeaderList {
  return headers.some(([n]) => n.length === 6 && n.toLowerCase() === 'expect') ? headers.filter(([n]) => n.toLowerCase() !== 'expect') : headers;
}
