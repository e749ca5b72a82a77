/**
 * Pieces shared by both front engines (uws, node): client-connection ids, the request body
 * (src/core/request-body.ts) wiring, `wantsClose`, response-header hygiene, logging shape.
 * Nothing here knows about uWS or node:http objects.
 */
import { STATUS_CODES } from 'node:http';
import { LonghaulError } from '../core/errors.js';
import type { HeaderList } from '../core/types.js';
import { connectionTokens } from '../core/connection-tokens.js';
import { RequestBody, type BodyControl } from '../core/request-body.js';
import type { ListenerConfig } from '../config/config-types.js';

/** The subset of pino the front uses (pino's `Logger` satisfies it). */
export interface FrontLog {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}

const noop = (): void => {};
export const silentFrontLog: FrontLog = { info: noop, warn: noop, error: noop, debug: noop };

let connSeq = 0;
/** Process-wide unique client-connection id (both engines, every listener). Never reused. */
export function nextClientConnId(): number {
  connSeq += 1;
  return connSeq;
}

const EMPTY = Buffer.alloc(0);

/** The request body of one request, pausing the client through `control` (both engines). */
export function newRequestBody(length: number | null, control: BodyControl, cfg: ListenerConfig): RequestBody {
  const windowMs = cfg.timeouts.httpRequest;
  return new RequestBody(length, control, { windowMs, minRate: cfg.minUploadRate ?? 1024 });
}

/** The error a body iterator throws when the client went away mid-body. */
export function clientAbortedError(): LonghaulError {
  return new LonghaulError('LH_CLIENT_ABORTED', 'client connection closed before the request body was complete');
}

/**
 * The client wants the connection closed after this response: `Connection: close`, or HTTP/1.0
 * without `Connection: keep-alive` (RFC 9112 §9.3).
 */
export function computeWantsClose(httpVersion: '1.0' | '1.1', headers: HeaderList): boolean {
  const toks = connectionTokens(headers);
  if (toks.has('close')) return true;
  return httpVersion === '1.0' && !toks.has('keep-alive');
}

/** RFC 9110 token (methods, header names). */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A header value byte that may not cross the gateway, in either direction: anything but HTAB,
 * SP, visible ASCII and obs-text 0x80–0xFF — so NUL, CR, LF, the other CTLs and DEL. It is the
 * rule of the backend codec (undici 7 lib/core/util.js `headerCharRegex`) and of node:http's
 * `checkInvalidHeaderChar`. A character above 0xFF can only come from an engine that decoded the
 * bytes as UTF-8 (uws): it cannot be forwarded as the bytes that were sent, so it is refused too.
 * Requests: 400 + close at the front (request-validation.ts; a client's bad byte is never a "bad
 * server response", issue 11 item 2). Responses: the header is dropped, never written (uWS does
 * not check, node:http would throw).
 */
export const BAD_HEADER_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Headers the front writes itself (framing, connection management, Date): never copied from
 * the proxy's list even if it slipped through.
 */
const FRONT_OWNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'date', 'te', 'trailer', 'upgrade']);

/**
 * The response headers the front will write: names must be tokens and values free of the bytes node:http refuses (CTLs, DEL)
 * (uWS `writeHeader` does not check, a bad backend must not be able to split our response);
 * framing / connection / Date headers are dropped because the engine writes its own.
 * Returns the kept list and the names that were dropped as invalid.
 */
export function responseHeadersToWrite(headers: HeaderList): { keep: HeaderList; invalid: string[] } {
  const keep: HeaderList = [];
  const invalid: string[] = [];
  for (const [name, value] of headers) {
    if (!TOKEN_RE.test(name) || BAD_HEADER_VALUE_RE.test(value)) {
      invalid.push(name);
      continue;
    }
    if (FRONT_OWNED.has(name.toLowerCase())) continue;
    keep.push([name, value]);
  }
  return { keep, invalid };
}

/** Reason phrase to send: the given one if it is safe, else the standard one. */
export function reasonPhrase(status: number, reason: string): string {
  if (reason && !/[\r\n\0]/.test(reason)) return reason;
  return STATUS_CODES[status] ?? 'Unknown';
}

export const EMPTY_BUFFER = EMPTY;

/** Counters every listener keeps. */
export interface ListenerCounters {
  /** Client connections currently open. */
  connections: number;
  /** Requests received (valid or not). */
  requests: number;
  /** Requests answered by the front itself with 4xx (malformed) or dropped as unsafe. */
  rejected: number;
  /** Client connections closed at accept or after the handshake: `allow`, `max-conn`, client certificate (client-gate.ts). */
  refused?: number;
}
