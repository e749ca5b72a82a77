/**
 * Pieces shared by both front engines (uws, node): client-connection ids, the pull-based
 * request body with backpressure, `wantsClose`, response-header hygiene, logging shape.
 * Nothing here knows about uWS or node:http objects.
 */
import { STATUS_CODES } from 'node:http';
import { LonghaulError } from '../core/errors.js';
import type { HeaderList, RequestBody } from '../core/types.js';
import { connectionTokens } from '../core/connection-tokens.js';

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

/** Bytes queued in a request body before the client is paused. */
export const BODY_HIGH_WATER = 256 * 1024;
/** The client is resumed when the queue drains below this. */
export const BODY_LOW_WATER = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * A pull-based request body fed by an engine that pushes chunks (uWS `onData`). Chunks are
 * queued until the consumer pulls them; above BODY_HIGH_WATER the engine is asked to pause the
 * client and below BODY_LOW_WATER to resume it. Once the consumer stops iterating early
 * (`return()`), or the owner calls `discard()`, further chunks are dropped and the client is
 * never paused again (so the request can still reach its end on the wire).
 */
export class PushedBody implements RequestBody {
  readonly length: number | null;
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | null = null;
  private paused = false;
  private discarding = false;
  private iterated = false;
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void } | null = null;
  /** Total bytes received from the client so far. */
  received = 0;

  constructor(
    length: number | null,
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {
    this.length = length;
  }

  get complete(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    if (this.ended || this.failure) return;
    this.received += chunk.length;
    if (this.discarding || chunk.length === 0) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: chunk, done: false });
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (!this.paused && this.queued > BODY_HIGH_WATER) {
      this.paused = true;
      this.pause();
    }
  }

  end(): void {
    if (this.ended || this.failure) return;
    this.ended = true;
    if (this.waiter && this.chunks.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  fail(err: Error): void {
    if (this.ended || this.failure) return;
    this.failure = err;
    this.chunks.length = 0;
    this.queued = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  /** Drop everything queued and everything still to come; never pause the client again. */
  discard(): void {
    this.discarding = true;
    this.chunks.length = 0;
    this.queued = 0;
    if (this.paused) {
      this.paused = false;
      this.resume();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.iterated) throw new Error('request body can be iterated only once');
    this.iterated = true;
    return {
      next: (): Promise<IteratorResult<Buffer>> => {
        if (this.failure) return Promise.reject(this.failure);
        const c = this.chunks.shift();
        if (c) {
          this.queued -= c.length;
          if (this.paused && this.queued < BODY_LOW_WATER) {
            this.paused = false;
            this.resume();
          }
          return Promise.resolve({ value: c, done: false });
        }
        if (this.ended || this.discarding) return Promise.resolve({ value: undefined, done: true });
        if (this.waiter) return Promise.reject(new Error('concurrent next() on a request body'));
        if (this.paused) {
          this.paused = false;
          this.resume();
        }
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        this.discard();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
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
