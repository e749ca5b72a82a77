import { performance } from 'node:perf_hooks';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { errorCode, LonghaulError, type ErrorCode } from '../core/errors.js';
import type { BodyReader } from '../core/request-body.js';
import type { ResponseSink } from '../core/types.js';
import type { Lease } from '../pool/server-pool.js';
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
 * backpressure: the client body is pulled by undici as the socket drains; the response body is
 * paused (undici `onData` returning false) while the client is slow and resumed on drain.
 * The caller releases the lease; `reusable` says whether the connection may go back idle.
 */
export function runExchange(lease: Lease, req: ExchangeRequest, sink: ResponseSink): Promise<ExchangeResult> {
  const conn = lease.conn;
  const client = conn.client!;
  const socket = conn.socket!;
  // Plaintext bytes handed to TLS before this exchange: any growth means the request (or part
  // of it) may have reached the server.
  const writtenBefore = socket.bytesWritten;
  const dispatchedAt = performance.now();
  const noBody = req.method === 'HEAD';

  return new Promise<ExchangeResult>((resolve, reject) => {
    let phase: ExchangePhase = 'not-written';
    let abortUndici: ((err?: Error) => void) | null = null;
    let settled = false;
    let status = 0;
    let bytes = 0;
    let serverClose = false;
    let connectionAuth = false;
    let headAt = 0;
    let timer: NodeJS.Timeout | null = null;
    let resumeUndici: () => void = () => {};
    /** The response is paused (onData returned false) until the client drains. */
    let responsePaused = false;
    /** Set while a refused retry-on response is being read and dropped. */
    let discarding = false;
    let discarded = 0;

    const currentPhase = (): ExchangePhase => (phase === 'response-started' ? phase : socket.bytesWritten > writtenBefore ? 'written' : 'not-written');

    const stopTimer = (): void => {
      if (timer) clearTimeout(timer);
      timer = null;
    };

    /*
     * undici 7.30 (lib/dispatcher/client-h1.js onHttpSocketEnd → Parser.finish) asserts
     * `!this.paused` when the server's FIN arrives while the parser is paused — which is exactly
     * a close-delimited response (no Content-Length, not chunked) paused for a slow client when
     * its last bytes came in: an uncaught AssertionError (chaos run, issue 11). Our listener runs
     * before undici's, resumes the parser and never pauses it again (the resume itself delivers
     * the bytes undici had already read, and onData would pause again): what is left is at
     * most those bytes, already in memory, so memory stays bounded.
     */
    let serverEnded = false;
    const onServerEnd = (): void => {
      serverEnded = true;
      if (responsePaused) {
        responsePaused = false;
        resumeUndici();
      }
    };
    socket.prependListener('end', onServerEnd);

    const fail = (err: ExchangeError): void => {
      if (settled) return;
      settled = true;
      stopTimer();
      socket.off('end', onServerEnd);
      reject(err);
    };

    // Our own timer (undici's tick is ~500 ms): silence longer than timeouts.server, counted only
    // while the gateway is ready to take the server's bytes and is not itself waiting for the
    // client (issue 11 item 2): stopped while the response is paused for a slow client and while
    // the request body waits for the client's next chunk.
    let waitingForClient = false;
    const armTimer = (): void => {
      if (req.serverTimeoutMs <= 0 || settled || responsePaused || waitingForClient) return;
      if (timer) timer.refresh();
      else
        timer = setTimeout(() => {
          const err = new ExchangeError('LH_SERVER_TIMEOUT', `no data from server for ${req.serverTimeoutMs} ms`, currentPhase());
          // fail() first: aborting makes undici call onError synchronously with its own code.
          fail(err);
          abortUndici?.(err);
        }, req.serverTimeoutMs);
    };

    if (req.body) {
      req.body.onWait = (waiting) => {
        waitingForClient = waiting;
        if (waiting) stopTimer();
        else armTimer();
      };
    }

    sink.onAbort(() => {
      const err = new ExchangeError('LH_CLIENT_ABORTED', 'client went away', currentPhase());
      fail(err);
      abortUndici?.(err);
    });

    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        abortUndici = abort as (err?: Error) => void;
        if (sink.aborted) abort(new Error('client went away'));
        armTimer();
      },
      onBodySent() {
        armTimer();
      },
      // Invariant: once settled (completed or failed, from either side), nothing more from the
      // codec reaches the sink; a failed exchange's connection is destroyed by its release.
      onHeaders(statusCode, rawHeaders, resume) {
        if (settled) return false;
        armTimer();
        resumeUndici = resume;
        // 1xx (e.g. 103): informational, not forwarded; the final response follows.
        if (statusCode < 200) return true;
        if (req.requestId !== undefined) {
          const echoed = echoedRequestId(rawHeaders as unknown as Buffer[]);
          if (echoed !== null) {
            if (echoed !== req.requestId && conn.echoesRequestId) {
              // HTTP/1.1 pairs answers with requests by order only: a stray answer earlier on this
              // connection shifted the queue, and this head answers an earlier request — maybe
              // another client's. Nothing is forwarded; the connection is destroyed (abort) so
              // that the shift cannot reach the next request (design "Faults", chaos F8).
              const err = new ExchangeError('LH_RESPONSE_MISMATCH', `server answered with the X-Request-Id of another request (${echoed.slice(0, 64)}): its connection is out of step`, 'written');
              fail(err);
              abortUndici?.(err);
              return false;
            }
            if (echoed === req.requestId) conn.echoesRequestId = true;
          }
        }
        status = statusCode;
        headAt = performance.now();
        const head = downstreamResponseHead(rawHeaders as unknown as Buffer[], req.responseRules);
        serverClose = head.serverClose;
        connectionAuth = asksConnectionAuth(statusCode, rawHeaders as unknown as Buffer[]);
        if (head.keepAliveHintMs !== null) conn.keepAliveHintMs = head.keepAliveHintMs;
        if (req.retryStatus?.(statusCode)) {
          // Nothing reached the client: the phase stays `written` (the server did see the request).
          discarding = true;
          return true;
        }
        phase = 'response-started';
        const bodyless = noBody || statusCode === 204 || statusCode === 304;
        sink.start(statusCode, '', head.headers, statusCode === 204 ? null : head.contentLength, bodyless);
        return true;
      },
      onData(chunk) {
        if (settled) return false;
        armTimer();
        if (discarding) {
          discarded += chunk.length;
          if (discarded > RETRY_STATUS_DISCARD_LIMIT) {
            const err = new ExchangeError('LH_RETRY_STATUS', `server answered ${status} (body too long to drain)`, 'written');
            fail(err);
            abortUndici?.(err);
            return false;
          }
          return true;
        }
        bytes += chunk.length;
        const ok = sink.write(chunk) || serverEnded;
        if (!ok) {
          // Client back-pressure: the server is not silent, the client is slow (issue 11 item 2).
          responsePaused = true;
          stopTimer();
          sink.onDrain(() => {
            if (!responsePaused) return;
            responsePaused = false;
            armTimer();
            resumeUndici();
          });
        }
        return ok;
      },
      onComplete() {
        if (settled) return;
        if (discarding) {
          fail(new ExchangeError('LH_RETRY_STATUS', `server answered ${status}`, 'written', undefined, !serverClose));
          return;
        }
        settled = true;
        stopTimer();
        socket.off('end', onServerEnd);
        responsePaused = false;
        sink.end();
        // A server that answered before it got the whole body leaves that body's rest in flight
        // on this connection: never reused (the next exchange would follow a truncated request).
        resolve({ status, bytes, reusable: !serverClose && (!req.body || req.body.done), serverMs: headAt - dispatchedAt, connectionAuth });
      },
      onError(err) {
        if (discarding) {
          fail(new ExchangeError('LH_RETRY_STATUS', `server answered ${status}, then: ${err.message}`, 'written', err));
          return;
        }
        const p = currentPhase();
        fail(new ExchangeError(exchangeErrorCode(err, p), err.message, p, err));
      },
    };
    armTimer();
    try {
      client.dispatch(
        {
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body as never,
          // undici closes after HEAD by default (its issue 258); a HEAD response is safely framed.
          reset: false,
        } as Dispatcher.DispatchOptions,
        handler,
      );
    } catch (err) {
      fail(new ExchangeError(exchangeErrorCode(err, 'not-written'), (err as Error).message, 'not-written', err));
    }
  });
}

/**
 * The X-Request-Id of a response head (undici's raw [name, value, …] Buffers), or null. Several
 * (or a comma-joined list) that are not all one id return a value no request was sent with.
 */
function echoedRequestId(raw: Buffer[]): string | null {
  let found: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 12 || name.toString('latin1').toLowerCase() !== 'x-request-id') continue;
    const v = raw[i + 1]!.toString('latin1').trim();
    if (found !== null && found !== v) return `${found},${v}`;
    found = v;
  }
  return found;
}

/**
 * Our code for an error undici reports, by its stable `code` or class, never its message text
 * (issue 11 item 2; design "Blame the right side"):
 *  - the codec refused the request before sending it (UND_ERR_INVALID_ARG: a header, method or
 *    path it will not write; UND_ERR_NOT_SUPPORTED; a body not matching its Content-Length):
 *    the client's input, LH_CLIENT_BAD_REQUEST, never the server's fault;
 *  - after the response started: LH_RESPONSE_ABORTED;
 *  - llhttp refused the response (HTTPParserError, by class: undici 7.30 leaves its `code`
 *    undefined), an oversized or mis-framed response: LH_BAD_RESPONSE;
 *  - anything else (socket closed or reset, TLS error): LH_CONN_CLOSED_BEFORE_RESPONSE.
 */
export function exchangeErrorCode(err: unknown, phase: ExchangePhase): ErrorCode {
  if (err instanceof LonghaulError) return err.code;
  const c = errorCode(err);
  if (c === 'UND_ERR_INVALID_ARG' || c === 'UND_ERR_NOT_SUPPORTED' || c === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') return 'LH_CLIENT_BAD_REQUEST';
  if (phase === 'response-started') return 'LH_RESPONSE_ABORTED';
  if (err instanceof undiciErrors.HTTPParserError || c.startsWith('HPE_') || c === 'UND_ERR_HEADERS_OVERFLOW' || c === 'UND_ERR_RES_EXCEEDED_MAX_SIZE' || c === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'LH_BAD_RESPONSE';
  return 'LH_CONN_CLOSED_BEFORE_RESPONSE';
}
