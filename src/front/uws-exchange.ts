/**
 * One request/response on the uws engine: the request side (head accepted by the listener,
 * binding to its connection, dispatch to the proxy, request body intake, abort and kill). The
 * response side, and with it the ResponseSink handed to the proxy, is UwsResponseWriter
 * (uws-response-writer.ts), which this class extends.
 */
import type { HttpResponse } from '@based/uws';
import type { ListenerConfig } from '../config/config-types.js';
import type { HeaderList, ProxyRequest, RequestHandler, ResponseSink } from '../core/types.js';
import type { RequestBody } from '../core/request-body.js';
import { clientAbortedError, computeWantsClose, newRequestBody } from './front-common.js';
import { withoutExpect, type BodyFraming } from './request-validation.js';
import type { UwsConn } from './uws-conn.js';
import { atTick, parseTurn } from './uws-parse-turn.js';
import { UwsResponseWriter, type UwsWriterHost } from './uws-response-writer.js';

export interface HeadCopy {
  loweredMethod: string;
  target: string;
  headers: HeaderList;
  /** uWS will close after the response (first Connection header is 5 bytes long). */
  uwsCloses: boolean;
}

/** What an exchange needs from its listener (UwsListener implements it). */
export interface UwsExchangeHost extends UwsWriterHost {
  readonly name: string;
  readonly cfg: ListenerConfig;
  readonly handler: RequestHandler;
  readonly inflight: Set<UwsExchange>;
  /** Address of an unbound request we are closing right now (reject / drop), for attributeClose. */
  unboundClosing: string | null;
  unpark(exch: UwsExchange): void;
  connGone(conn: UwsConn): void;
  drop(exch: UwsExchange, why: string, immediate?: boolean): void;
  unidentified(exch: UwsExchange, why: string): void;
  exchangeFinished(exch: UwsExchange, socketClosedMeanwhile: boolean): void;
}

/** One request/response on the uws engine; it is the ResponseSink handed to the proxy. */
export class UwsExchange extends UwsResponseWriter {
  override conn: UwsConn | null = null;
  clientConnId = 0;
  method = '';
  override wantsClose = false;
  framing: BodyFraming = { hasBody: false, length: null, chunked: false };
  override body: RequestBody | null = null;
  /** The last chunk of the request body was seen. */
  override bodyComplete = false;
  rejected = false;
  /** Chunked, waiting for its first chunk: gives up after timeouts.http-request. */
  awaitTimer: NodeJS.Timeout | null = null;
  /** res.close() was called by us (destroy / drop): abort callbacks are not fired. */
  private selfClosed = false;

  constructor(
    override readonly listener: UwsExchangeHost,
    override readonly res: HttpResponse,
    readonly remote: string,
    readonly receivedAt: number,
    override readonly head: HeadCopy,
  ) {
    super();
  }

  // ----- request side -----

  /** The request handler found this head valid. */
  accept(method: string, framing: BodyFraming): void {
    this.method = method;
    this.framing = framing;
    this.wantsClose = this.head.uwsCloses || computeWantsClose('1.1', this.head.headers);
  }

  /** Bound to its connection by the connection's data handler: dispatch. */
  bind(conn: UwsConn): void {
    this.conn = conn;
    this.clientConnId = conn.id;
    if (this.awaitTimer) {
      clearTimeout(this.awaitTimer);
      this.awaitTimer = null;
    }
    if (this.rejected) {
      conn.closing = true;
      return;
    }
    if (conn.closing) {
      this.listener.drop(this, 'request on a connection that was told to close');
      return;
    }
    conn.current = this;
    conn.body = this;
    conn.client.requests++;
    this.dispatch();
  }

  private dispatch(): void {
    const conn = this.conn!;
    if (this.framing.hasBody) {
      const pauseClient = (): void => {
        try {
          conn.handle?.pause();
        } catch {
          // socket gone: the abort path fails the body
        }
      };
      const resumeClient = (): void => {
        try {
          conn.handle?.resume();
        } catch {
          // socket gone
        }
      };
      // A slow upload leaves the rest of its body on the wire: its answer closes the connection.
      const stalled = (): void => {
        this.wantsClose = true;
      };
      this.body = newRequestBody(this.framing.length, { pause: pauseClient, resume: resumeClient, stalled }, this.listener.cfg);
    }
    const l = this.listener;
    const req: ProxyRequest = {
      method: this.method,
      target: this.head.target,
      httpVersion: '1.1',
      headers: withoutExpect(this.head.headers),
      remoteAddress: this.remote,
      clientConnId: this.clientConnId,
      client: conn.client,
      listener: l.name,
      farm: l.cfg.farm,
      wantsClose: this.wantsClose,
      body: this.body,
      receivedAt: this.receivedAt,
      forwardedFor: l.cfg.forwardedFor,
    };
    l.inflight.add(this);
    try {
      l.handler(req, this);
    } catch (err) {
      l.log.error({ err, method: req.method, path: req.target }, 'request handler threw');
      if (!this.abortedFlag) {
        if (!this.startedFlag) sendInternalError(this);
        else this.destroy();
      }
    }
  }

  /** A chunk (possibly empty) from the connection's data handler. */
  onBodyData(chunk: Buffer, last: boolean): void {
    if (this.abortedFlag) return;
    if (this.body) {
      if (chunk.length > 0) this.body.push(chunk);
      if (last) this.body.end();
    }
    if (last) this.bodyComplete = true;
  }

  /** uWS's onAborted for this request: the socket closed while the request was in flight. */
  onRequestAborted(): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    if (parseTurn.pendingSync === this) parseTurn.pendingSync = null;
    if (parseTurn.lastChunked === this) parseTurn.lastChunked = null;
    if (this.awaitTimer) clearTimeout(this.awaitTimer);
    const l = this.listener;
    l.unpark(this);
    l.inflight.delete(this);
    this.body?.fail(clientAbortedError());
    if (this.conn) l.connGone(this.conn);
    if (!this.selfClosed) this.fireAbort();
  }

  /** The connection went away while this exchange still needed it. */
  connectionLost(): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    this.listener.inflight.delete(this);
    this.body?.fail(clientAbortedError());
    if (!this.selfClosed) this.fireAbort();
  }

  /**
   * Close the connection without (more) response. Never synchronously inside (or in the
   * microtasks after) a connection data callback: uWS destroys that socket's data handler when
   * the socket closes, i.e. the very function running (crashed the fuzz run). Inside a request
   * handler it is fine (`immediate`); otherwise it happens on the next tick — meanwhile the
   * response stays pending, so uWS refuses anything pipelined on that socket.
   */
  override kill(immediate = false): void {
    if (this.abortedFlag || this.killed) return;
    this.killed = true;
    this.selfClosed = true;
    if (!immediate && parseTurn.inParseTurn) {
      atTick(() => this.closeNow());
      return;
    }
    this.closeNow();
  }

  private closeNow(): void {
    if (this.abortedFlag) return;
    const l = this.listener;
    // An unbound request's close is attributed by address (see attributeClose).
    const prev = l.unboundClosing;
    if (!this.conn) l.unboundClosing = this.remote;
    try {
      if (!this.responseDone) {
        try {
          this.res.close();
          return;
        } catch {
          // already invalid: fall through to the connection handle
        }
      }
      const h = this.conn?.handle;
      if (h) {
        try {
          h.close();
        } catch {
          // gone already
        }
      }
      this.connectionLost();
    } finally {
      l.unboundClosing = prev;
    }
  }

  protected override responseFinished(socketClosedMeanwhile: boolean): void {
    this.listener.exchangeFinished(this, socketClosedMeanwhile);
  }
}

function sendInternalError(sink: ResponseSink): void {
  const body = Buffer.from('500 Internal Server Error\n');
  sink.start(500, 'Internal Server Error', [['content-type', 'text/plain; charset=utf-8']], body.length, false);
  sink.write(body);
  sink.end();
}
