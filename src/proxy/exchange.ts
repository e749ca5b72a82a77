import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import { errorCode, LonghaulError, type ErrorCode } from '../core/errors.js';
import type { BodyReader } from '../core/request-body.js';
import type { ResponseSink } from '../core/types.js';
import type { Lease } from '../pool/server-pool.js';
import type { BackendConnection } from '../pool/backend-connection.js';
import type { Http1Codec, Http1Handler } from '../pool/http1-codec.js';
import type { HeaderRules } from '../config/config-types.js';
import { downstreamResponseHead } from './hop-headers.js';
import { asksConnectionAuth } from './reuse-policy.js';

/**
 * How far an exchange got before it failed. The retry table of the design is keyed on this:
 *  - `not-written`: no request byte reached the socket (safe to retry anything);
 *  - `written`: request bytes were written, no response byte came back (only idempotent
 *    requests may be replayed, on a fresh connection);
 *  - `response-started`: the client already got the status line; never retry.
 */
export type ExchangePhase = 'not-written' | 'written' | 'response-started';

export class ExchangeError extends LonghaulError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly phase: ExchangePhase,
    cause?: unknown,
    /** The connection may serve another exchange (only for LH_RETRY_STATUS: the refused response was read to its end). */
    readonly reusable = false,
  ) {
    super(code, message, { cause });
  }
}

/**
 * A refused `retry-on` response is read and thrown away, so that its connection can be reused;
 * a body longer than this is not worth waiting for: the connection is closed instead.
 */
const RETRY_STATUS_DISCARD_LIMIT = 64 * 1024;

export interface ExchangeRequest {
  method: string;
  path: string;
  headers: string[];
  /** This attempt's reader of the request body (one reader at a time, src/core/request-body.ts). */
  body: BodyReader | null;
  /** timeouts.server: longest silence from the server while we wait for it (ms). */
  serverTimeoutMs: number;
  /**
   * Asked when a final response head arrives, before anything is forwarded: true = this status
   * is a `retry-on` status and the request will be retried, so the response is not forwarded
   * (read to its end and dropped) and the exchange fails with LH_RETRY_STATUS. Absent or false:
   * the response is forwarded as is (retries exhausted, non-idempotent request, …).
   */
  retryStatus?: (status: number) => boolean;
  /** The farm's `response-headers` rules (header-rules.ts), applied after hop-by-hop handling. */
  responseRules?: HeaderRules | undefined;
  /**
   * The X-Request-Id this request was sent with, when `request-id-check` is on: a response that
   * echoes another id, on a connection whose server has echoed ours before, is the answer to
   * another request (a desynced connection, F8) and is refused with LH_RESPONSE_MISMATCH.
   */
  requestId?: string | undefined;
}

export interface ExchangeResult {
  status: number;
  /** Body bytes sent to the client. */
  bytes: number;
  /** The connection may serve another exchange. */
  reusable: boolean;
  /** Time from dispatch to the response head, ms. */
  serverMs: number;
  /** 401/407 offering NTLM or Negotiate: the connection must become private to this client. */
  connectionAuth: boolean;
}

/**
 * One request/response exchange on one leased connection, streamed both ways with
 * backpressure: the client body is pulled by the codec as the socket drains; the response body
 * is paused (onResponseData returning false) while the client is slow and resumed on drain.
 * The caller releases the lease; `reusable` says whether the connection may go back idle (the
 * codec's verdict, http1-codec.ts).
 */
export function runExchange(lease: Lease, req: ExchangeRequest, sink: ResponseSink): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve, reject) => {
    new Exchange(lease, req, sink, resolve, reject).start();
  });
}

/**
 * The one handler object of one exchange (http1-codec.ts Http1Handler). Once `settled`, nothing
 * it does reaches the sink or the promise again; the codec guarantees the same from its side
 * (exchange token), so a late callback of this exchange can never touch another one (F8).
 */
class Exchange implements Http1Handler {
  readonly #conn: BackendConnection;
  readonly #codec: Http1Codec;
  readonly #socket: tls.TLSSocket;
  /** Plaintext bytes handed to TLS before this exchange: any growth means the request (or part of it) may have reached the server. */
  readonly #writtenBefore: number;
  readonly #dispatchedAt = performance.now();
  #phase: ExchangePhase = 'not-written';
  #settled = false;
  #status = 0;
  #bytes = 0;
  #serverClose = false;
  #connectionAuth = false;
  #headAt = 0;
  #timer: NodeJS.Timeout | null = null;
  /** The response is paused (onResponseData returned false) until the client drains. */
  #responsePaused = false;
  /** The request body waits for the client (BodyReader.onWait). */
  #waitingForClient = false;
  /** Set while a refused retry-on response is being read and dropped. */
  #discarding = false;
  #discarded = 0;

  constructor(
    lease: Lease,
    private readonly req: ExchangeRequest,
    private readonly sink: ResponseSink,
    private readonly resolve: (r: ExchangeResult) => void,
    private readonly reject: (e: ExchangeError) => void,
  ) {
    this.#conn = lease.conn;
    this.#codec = lease.conn.codec!;
    this.#socket = lease.conn.socket!;
    this.#writtenBefore = this.#socket.bytesWritten;
  }

  start(): void {
    const req = this.req;
    if (req.body) req.body.onWait = this.#onWait;
    this.sink.onAbort(this.#onClientAbort);
    if (this.sink.aborted) return this.#onClientAbort();
    this.#armTimer();
    try {
      this.#codec.start({ method: req.method, path: req.path, headers: req.headers, body: req.body }, this);
    } catch (err) {
      this.#fail(new ExchangeError(exchangeErrorCode(err, 'not-written'), (err as Error).message, 'not-written', err));
    }
  }

  #currentPhase(): ExchangePhase {
    return this.#phase === 'response-started' ? this.#phase : this.#socket.bytesWritten > this.#writtenBefore ? 'written' : 'not-written';
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Our own timer: silence longer than timeouts.server, counted only while the gateway is ready
   * to take the server's bytes and is not itself waiting for the client (issue 11 item 2):
   * stopped while the response is paused for a slow client and while the request body waits
   * for the client's next chunk.
   */
  #armTimer(): void {
    if (this.req.serverTimeoutMs <= 0 || this.#settled || this.#responsePaused || this.#waitingForClient) return;
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(this.#onTimeout, this.req.serverTimeoutMs);
  }

  readonly #onTimeout = (): void => {
    this.#timer = null;
    this.#abort(new ExchangeError('LH_SERVER_TIMEOUT', `no data from server for ${this.req.serverTimeoutMs} ms`, this.#currentPhase()));
  };

  readonly #onWait = (waiting: boolean): void => {
    if (this.#settled) return;
    this.#waitingForClient = waiting;
    if (waiting) this.#stopTimer();
    else this.#armTimer();
  };

  readonly #onClientAbort = (): void => {
    this.#abort(new ExchangeError('LH_CLIENT_ABORTED', 'client went away', this.#currentPhase()));
  };

  readonly #onSinkDrain = (): void => {
    if (!this.#responsePaused || this.#settled) return;
    this.#responsePaused = false;
    this.#armTimer();
    this.#codec.resume();
  };

  /** Settles from our side: the codec drops this handler and destroys the connection first. */
  #abort(err: ExchangeError): void {
    if (this.#settled) return;
    this.#codec.abort(err.message);
    this.#fail(err);
  }

  #fail(err: ExchangeError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#stopTimer();
    this.reject(err);
  }

  // ----- Http1Handler -----

  onActivity(): void {
    this.#armTimer();
  }

  onResponseHead(status: number, rawHeaders: string[]): void {
    if (this.#settled) return;
    this.#armTimer();
    const req = this.req;
    if (req.requestId !== undefined) {
      const echoed = echoedRequestId(rawHeaders);
      if (echoed !== null) {
        if (echoed !== req.requestId && this.#conn.echoesRequestId) {
          // HTTP/1.1 pairs answers with requests by order only: a stray answer earlier on this
          // connection shifted the queue, and this head answers an earlier request — maybe
          // another client's. Nothing is forwarded; abort destroys the connection so that the
          // shift cannot reach the next request (design "Faults", chaos F8).
          this.#abort(new ExchangeError('LH_RESPONSE_MISMATCH', `server answered with the X-Request-Id of another request (${echoed.slice(0, 64)}): its connection is out of step`, 'written'));
          return;
        }
        if (echoed === req.requestId) this.#conn.echoesRequestId = true;
      }
    }
    this.#status = status;
    this.#headAt = performance.now();
    // The codec's header strings are latin1 (one char per byte): downstreamResponseHead and
    // connectionTokensRaw read them exactly as they read undici's Buffers (length, toString).
    const raw = rawHeaders as unknown as Buffer[];
    const head = downstreamResponseHead(raw, req.responseRules);
    this.#serverClose = head.serverClose;
    this.#connectionAuth = asksConnectionAuth(status, rawHeaders);
    if (head.keepAliveHintMs !== null) this.#conn.keepAliveHintMs = head.keepAliveHintMs;
    if (req.retryStatus?.(status)) {
      // Nothing reached the client: the phase stays `written` (the server did see the request).
      this.#discarding = true;
      return;
    }
    this.#phase = 'response-started';
    const bodyless = req.method === 'HEAD' || status === 204 || status === 304;
    this.sink.start(status, '', head.headers, status === 204 ? null : head.contentLength, bodyless);
  }

  onResponseData(chunk: Buffer): boolean {
    if (this.#settled) return true;
    this.#armTimer();
    if (this.#discarding) {
      this.#discarded += chunk.length;
      if (this.#discarded > RETRY_STATUS_DISCARD_LIMIT) {
        this.#abort(new ExchangeError('LH_RETRY_STATUS', `server answered ${this.#status} (body too long to drain)`, 'written'));
      }
      return true;
    }
    this.#bytes += chunk.length;
    const ok = this.sink.write(chunk);
    if (!ok) {
      // Client back-pressure: the server is not silent, the client is slow (issue 11 item 2).
      this.#responsePaused = true;
      this.#stopTimer();
      this.sink.onDrain(this.#onSinkDrain);
    }
    return ok;
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const reusable = this.#codec.reusable && !this.#serverClose;
    if (this.#discarding) {
      this.#fail(new ExchangeError('LH_RETRY_STATUS', `server answered ${this.#status}`, 'written', undefined, reusable));
      return;
    }
    this.#settled = true;
    this.#stopTimer();
    this.#responsePaused = false;
    this.sink.end();
    // The codec's verdict includes "the whole request was written": a server that answered
    // before it got the whole body leaves that body's rest in flight (the codec destroyed it).
    this.resolve({ status: this.#status, bytes: this.#bytes, reusable, serverMs: this.#headAt - this.#dispatchedAt, connectionAuth: this.#connectionAuth });
  }

  onError(err: LonghaulError): void {
    if (this.#settled) return;
    if (this.#discarding) {
      this.#fail(new ExchangeError('LH_RETRY_STATUS', `server answered ${this.#status}, then: ${err.message}`, 'written', err));
      return;
    }
    const p = this.#currentPhase();
    this.#fail(new ExchangeError(exchangeErrorCode(err, p), err.message, p, err));
  }
}

/**
 * The X-Request-Id of a response head (the codec's flat latin1 [name, value, …] list), or null.
 * Several that are not all one id return a value no request was sent with.
 */
function echoedRequestId(raw: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 12 || name.toLowerCase() !== 'x-request-id') continue;
    const v = raw[i + 1]!.trim();
    if (found !== null && found !== v) return `${found},${v}`;
    found = v;
  }
  return found;
}

/**
 * Our code for an exchange failure, by its stable code, never its message text (issue 11
 * item 2; design "Blame the right side"). The codec (http1-codec.ts) reports LonghaulErrors:
 *  - LH_CLIENT_BAD_REQUEST: it refused the request before sending it (a header, method or path
 *    it will not write; a body not matching its Content-Length): the client's input, never the
 *    server's fault — whatever the phase;
 *  - after the response started, any server-side failure is LH_RESPONSE_ABORTED;
 *  - LH_BAD_RESPONSE: llhttp refused the response (malformed, oversized head, unasked upgrade);
 *  - LH_CONN_CLOSED_BEFORE_RESPONSE: socket closed, reset or TLS error before the response.
 * Errors raised by the exchange itself (timeouts, client abort, retry status) keep their code.
 * Anything else (not ours) is classified by its `code`: ECONNRESET & co are a closed connection.
 */
export function exchangeErrorCode(err: unknown, phase: ExchangePhase): ErrorCode {
  if (err instanceof ExchangeError) return err.code;
  const c = errorCode(err);
  if (c === 'LH_CLIENT_BAD_REQUEST' || c === 'LH_CLIENT_ABORTED' || c === 'LH_CLIENT_SLOW_UPLOAD' || c === 'LH_BODY_READER_CLOSED') return c;
  if (phase === 'response-started') return 'LH_RESPONSE_ABORTED';
  if (c === 'LH_BAD_RESPONSE' || c.startsWith('HPE_')) return 'LH_BAD_RESPONSE';
  if (err instanceof LonghaulError) return err.code;
  return 'LH_CONN_CLOSED_BEFORE_RESPONSE';
}
