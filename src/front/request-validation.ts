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
import { TOKEN_RE } from './front-common.js';

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
/** Anything that may not appear in a header value on the wire. */
const BAD_VALUE_RE = /[\r\n\0]/;
/** request-target characters: visible ASCII only (no space, no CTL, no DEL). */
const BAD_TARGET_RE = /[\x00-\x20\x7f]/;

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
    if (BAD_VALUE_RE.test(value)) return { status: 400, reason: 'invalid character in header value' };
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
    if (teCount > 1) return { status: 400, reason: 'more than one Transfer-Encoding header' };
    if (teValue.trim().toLowerCase() !== 'chunked') return { status: 400, reason: 'unsupported Transfer-Encoding' };
    if (contentLength !== null) return { status: 400, reason: 'both Transfer-Encoding and Content-Length' };
  }
  if (head.httpVersion === '1.1' && hostCount !== 1) {
    return { status: 400, reason: hostCount === 0 ? 'missing Host header' : 'more than one Host header' };
  }
  return null;
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
