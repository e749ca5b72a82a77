/**
 * `engine: uws` — the client listener on uWebSockets.js (@based/uws 6.0.1 = uWS.js 20.51.0).
 *
 * Everything marked MEASURED was observed on this machine against that exact binary with raw TLS
 * clients (test/helpers/raw-tls-client.ts); test/unit/front/front-table.test.ts pins it.
 *
 * ## Request head
 * - The handler copies method, URL, query and headers synchronously (uWS's `req` is stack
 *   allocated) and attaches `onAborted` first.
 * - MEASURED: uWS ORs 0x20 into every method byte, `getMethod()` and `getCaseSensitiveMethod()`
 *   alike: `GET`/`Get`/`get` all arrive as `get`, `@x` arrives as "`x". The real case is lost, so
 *   the front restores the canonical uppercase form (every registered method is uppercase) and
 *   accepts only methods whose lowered form maps back unambiguously: [a-z0-9!#$%&'*+-.]. Methods
 *   with `^ _ \` | ~` (ambiguous after the OR) and non-tokens such as `G(T` get 400. A
 *   lowercase or mixed-case method is therefore forwarded uppercase.
 * - MEASURED: header names arrive lowercased; forwarded as such.
 * - `getQuery()` is undefined without `?` and '' for a bare `?`; the target is rebuilt exactly.
 * - UWS_HTTP_MAX_HEADERS_SIZE is set to 16 KiB (node:http's default) before the native module is
 *   loaded, unless already set. MEASURED: the default 4 KiB refuses an 8000-byte header; with 16
 *   KiB it passes and 20 KiB gets uWS's own 431.
 * - MEASURED: `Expect: 100-continue` (exactly that, lowercase) is answered `HTTP/1.1 100
 *   Continue` by uWS itself while parsing, before the handler runs (even for a GET); there is no
 *   `writeContinue` in this binding. `100-Continue` gets no interim response (the client sends its
 *   body after its own timeout). `Expect` is never passed on.
 *
 * ## Rejections: nothing behind a bad request is served
 * request-validation.ts runs on the copied head. MEASURED: `end(body, true)` inside the handler
 * still lets uWS dispatch requests already buffered behind it (the socket is corked, uWS
 * postpones the close to the end of its parse loop); `res.close()` sends nothing.
 * What works (MEASURED): a rejection body longer than uWS's 16 KiB cork buffer. Writing it makes
 * uWS flush and *uncork* the socket inside `end()`, so `end(…, true)` shuts the socket down and
 * closes it right there, and uWS stops parsing. The client gets exactly one 400 with
 * `Connection: close` (body: the reason line padded with spaces), then EOF — also for
 * `bad + good + good` in one write. If the 400 cannot be flushed (client gone or not reading),
 * uWS postpones the close; the request's own data-handler call then binds it to its connection,
 * which is marked closing (anything parsed behind it is dropped at binding) and closed.
 *
 * ## clientConnId
 * MEASURED: this binding has no remote port and no socket id; `res` is a new object per request;
 * the `filter` close event reports an empty address. But `app.filter` hands us, at open, a `res`
 * wrapping the new socket, and through it the front installs a *connection-level* `onData`
 * handler whose closure knows the connection. MEASURED: uWS calls the socket's data handler
 * synchronously right after the request handler returns, in the same parse loop — `(empty,
 * last)` for a request without body, `(0|bytes, …)` for Content-Length even before any body byte
 * arrived; for chunked only once a chunk is there (also after `pause()`). So the request handler
 * parks the request (`pendingSync`) and the connection's data handler binds it to its
 * connection, then dispatches it; the body keeps flowing through that handler.
 * - uWS drops the data handler after each request's last chunk, and MEASURED undoes a
 *   re-install made inside that callback (or in the microtasks after it, which run before uWS
 *   continues). So it is re-installed when the response completes, and a response that would
 *   complete in a turn where uWS's parse loop ran (after the request body's end) completes on
 *   the next tick instead — meanwhile it is pending and uWS refuses pipelining onto it. A
 *   connection-level `onAborted` is installed whenever no request is in flight: it reports an
 *   idle connection's close (and makes uWS.js invalidate that `res`).
 * - Chunked requests whose first chunk is not buffered yet are parked with their socket paused;
 *   per client address one parked request at a time is resumed, and every request handler pauses
 *   that one again while its own synchronous data-handler call may follow. So a first chunk
 *   arriving later is attributed without doubt (20 concurrent chunked uploads from one address
 *   are in the table test).
 * - A request that cannot be attributed (its data-handler call never came: it arrived on a
 *   connection in the one-tick window after an early answer, or pipelined behind a response we
 *   could not re-arm for) is dropped: its connection is closed without an answer.
 * - A socket that closes while a request is still unbound is found by address at the `filter`
 *   close event (its peer address reads empty then, MEASURED), so no connection handle is ever
 *   used after uWS freed the socket.
 * - Sockets are never closed from inside (or the microtasks after) their own data callback: uWS
 *   destroys the running handler (crashed the fuzzer); such closes happen on the next tick.
 *
 * ## Response
 * start() writes status + headers (corked); known length → `tryEnd(chunk, total)` with the
 * offset bookkeeping and `onWritable` retry; unknown length → `write()` (uWS chunked, drained with
 * an empty cork from `onWritable`); HEAD/304/204 → our own Content-Length header +
 * `endWithoutBody()` with NO argument (`endWithoutBody(n>0)` aborts the process; MEASURED:
 * `endWithoutBody(undefined, true)` writes `Content-Length: 9223372036854775808`). Every write is
 * corked. `Date` is never forwarded (uWS writes its own). The front writes `Connection: close`
 * when the client asked for it; uWS closes the connection after the response by itself when the
 * request's first Connection header value is exactly 5 bytes long (MEASURED: `close`, `Close`,
 * even `xxxxx`), and the front counts those as wantsClose too. Other spellings (`keep-alive,
 * close`) get the header, nothing more is served on that connection, and the client (or uWS's
 * 10 s idle timer) closes it. An early answer (server answered before the request body was
 * complete) completes at once; the rest of the body is read and discarded.
 *
 * ## Known gaps (uWS itself; not closable from JS)
 * LF-only chunk framing and a missing CRLF after chunk data are accepted; an empty header name
 * after Host hides the rest of the head (undetectable; before Host it shows as missing Host);
 * a bare CR inside a header value gets no answer (uWS waits, its timer closes); HTTP/1.0,
 * absolute-form, `*` and CONNECT get uWS's own 505; pipelining behind an asynchronous answer
 * makes uWS close the connection (it refuses async pipelining); timeouts are uWS's fixed ~10 s
 * idle / 16 KiB/s upload rules (cfg.timeouts do not apply to this engine, except http-request
 * for a chunked request waiting for its first chunk).
 */
import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from '@based/uws';
import type { ListenerConfig } from '../config/config-types.js';
import type { HeaderList, ProxyRequest, RequestHandler, ResponseSink } from '../core/types.js';
import { ClientConnection } from '../core/client-connection.js';
import { runCallbacks } from '../core/run-callbacks.js';
import {
  EMPTY_BUFFER,
  PushedBody,
  clientAbortedError,
  computeWantsClose,
  nextClientConnId,
  reasonPhrase,
  responseHeadersToWrite,
  type FrontLog,
  type ListenerCounters,
} from './front-common.js';
import type { FrontListener } from './front-listener.js';
import type { ListenerCerts } from '../tls/listener-certs.js';
import { UwsServerNames } from './uws-server-names.js';
import { bodyFraming, validateRequest, withoutExpect, type BodyFraming, type Rejection } from './request-validation.js';

type UwsModule = typeof import('@based/uws');

/** Request-head limit handed to uWS (its env var is read when the native module loads). */
export const UWS_MAX_HEADERS_SIZE = '16384';
/** uWS's cork buffer is 16 KiB; a rejection body longer than this forces flush + synchronous close. */
const REJECT_PAD = 16 * 1024 + 16;
/** In-flight exchanges get this long to finish when the listener closes; then everything is cut. */
const CLOSE_GRACE_MS = 10_000;

let uwsModule: UwsModule | null = null;
function loadUws(): UwsModule {
  if (uwsModule) return uwsModule;
  if (process.env.UWS_HTTP_MAX_HEADERS_SIZE === undefined) process.env.UWS_HTTP_MAX_HEADERS_SIZE = UWS_MAX_HEADERS_SIZE;
  uwsModule = createRequire(import.meta.url)('@based/uws') as UwsModule;
  return uwsModule;
}

/** Lowered method (uWS) → canonical uppercase, or null when the original cannot be recovered. */
const RECOVERABLE_METHOD_RE = /^[a-z0-9!#$%&'*+\-.]+$/;
export function restoreUwsMethod(lowered: string): string | null {
  return RECOVERABLE_METHOD_RE.test(lowered) ? lowered.toUpperCase() : null;
}

function addressText(res: HttpResponse): string {
  try {
    return Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Parse-loop state. uWS runs one socket's parse loop at a time, synchronously, on this thread;
// these are shared by every uws listener of the process.

/**
 * A uWS parse callback (request handler, connection data handler) ran in this event-loop turn.
 * Cleared on the next tick only: MEASURED, the microtasks queued by our callback (the proxy's
 * promise continuations) run before uWS gets control back, i.e. still inside its parse loop,
 * where a data handler we install is undone when uWS finishes the last chunk.
 */
let inParseTurn = false;
function enterParseTurn(): void {
  if (inParseTurn) return;
  inParseTurn = true;
  atTick(noop);
}
/** A non-chunked request whose handler just ran: its connection's data handler follows synchronously. */
let pendingSync: UwsExchange | null = null;
/** A chunked request whose handler just ran: its first chunk may follow synchronously (if buffered). */
let lastChunked: UwsExchange | null = null;

let tickScheduled = false;
let tickJobs: Array<() => void> = [];
function atTick(job: () => void): void {
  tickJobs.push(job);
  if (!tickScheduled) {
    tickScheduled = true;
    setImmediate(runTick);
  }
}
function runTick(): void {
  tickScheduled = false;
  inParseTurn = false;
  lastChunked = null;
  if (pendingSync) {
    const p = pendingSync;
    pendingSync = null;
    p.listener.unidentified(p, 'no connection data followed the request');
  }
  const jobs = tickJobs;
  tickJobs = [];
  for (const job of jobs) {
    try {
      job();
    } catch {
      // a job must never take the loop down
    }
  }
}

function pauseRes(res: HttpResponse): void {
  try {
    res.pause();
  } catch {
    // invalid: aborted
  }
}
function resumeRes(res: HttpResponse): void {
  try {
    res.resume();
  } catch {
    // invalid: aborted
  }
}

// ---------------------------------------------------------------------------------------------

/** One client TCP connection, known through the `res` that uWS's `filter` gave us at open. */
class UwsConn {
  /** Valid while the socket is open and uWS.js has not invalidated it; null afterwards. */
  handle: HttpResponse | null;
  /** Exchange whose request body is still arriving through our data handler. */
  body: UwsExchange | null = null;
  /** Exchange bound to this connection whose response is not finished. */
  current: UwsExchange | null = null;
  /** Our connection-level data handler is installed in uWS. */
  dataArmed = false;
  /** `Connection: close` was sent but uWS will not close: serve nothing more on it. */
  closing = false;
  readonly client: ClientConnection;

  constructor(
    readonly id: number,
    readonly ip: string,
    handle: HttpResponse,
  ) {
    this.handle = handle;
    this.client = new ClientConnection(id);
  }
}

interface HeadCopy {
  loweredMethod: string;
  target: string;
  headers: HeaderList;
  /** uWS will close after the response (first Connection header is 5 bytes long). */
  uwsCloses: boolean;
}

/** One request/response on the uws engine; it is the ResponseSink handed to the proxy. */
class UwsExchange implements ResponseSink {
  conn: UwsConn | null = null;
  clientConnId = 0;
  method = '';
  wantsClose = false;
  framing: BodyFraming = { hasBody: false, length: null, chunked: false };
  body: PushedBody | null = null;
  /** The last chunk of the request body was seen. */
  bodyComplete = false;
  rejected = false;
  /** Chunked, waiting for its first chunk: gives up after timeouts.http-request. */
  awaitTimer: NodeJS.Timeout | null = null;

  // response state
  private startedFlag = false;
  private abortedFlag = false;
  /** kill() was called (the close may still be pending until the next tick). */
  private killed = false;
  /** res.close() was called by us (destroy / drop): abort callbacks are not fired. */
  private selfClosed = false;
  /** The response is complete on uWS's side (res is invalid from then on). */
  responseDone = false;
  private endRequested = false;
  private noBody = false;
  private bodyLength: number | null = null;
  /** Known length: bytes accepted from the proxy / handed to tryEnd. */
  private accepted = 0;
  private handed = 0;
  private readonly out: Buffer[] = [];
  private partial: { chunk: Buffer; base: number } | null = null;
  private writableArmed = false;
  private needDrain = false;
  private completeScheduled = false;
  /** Status line + headers from start(), written by the next cork (see start()). */
  private pendingHead: (() => void) | null = null;
  private drainCbs: Array<() => void> = [];
  private abortCbs: Array<() => void> = [];

  constructor(
    readonly listener: UwsListener,
    readonly res: HttpResponse,
    readonly remote: string,
    readonly receivedAt: number,
    readonly head: HeadCopy,
  ) {}

  get started(): boolean {
    return this.startedFlag;
  }
  get aborted(): boolean {
    return this.abortedFlag;
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
      this.body = new PushedBody(this.framing.length, pauseClient, resumeClient);
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
    if (pendingSync === this) pendingSync = null;
    if (lastChunked === this) lastChunked = null;
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
  kill(immediate = false): void {
    if (this.abortedFlag || this.killed) return;
    this.killed = true;
    this.selfClosed = true;
    if (!immediate && inParseTurn) {
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

  private fireAbort(): void {
    const cbs = this.abortCbs;
    this.abortCbs = [];
    runCallbacks(cbs, this.listener.log, 'onAbort');
  }

  // ----- ResponseSink -----

  start(status: number, reason: string, headers: HeaderList, bodyLength: number | null, noBody: boolean): void {
    if (this.startedFlag) throw new Error('ResponseSink.start() called twice');
    this.startedFlag = true;
    if (this.abortedFlag || this.killed) return;
    this.noBody = noBody;
    this.bodyLength = noBody ? null : bodyLength;
    const { keep, invalid } = responseHeadersToWrite(headers);
    if (invalid.length > 0) this.listener.log.warn({ headers: invalid, path: this.head.target }, 'dropped response headers with invalid name or value');
    const conn = this.conn;
    const close = this.wantsClose || this.listener.closing || (conn?.closing ?? false);
    if (close && conn && !this.head.uwsCloses) conn.closing = true;
    // The head is written in the same cork as the first body bytes (or the end) when they come
    // in the same turn (undici delivers head, body and end of a small response in one parse): one
    // TLS record and one send instead of two. Otherwise it goes out alone at the end of the turn,
    // unless the body's completion was postponed to the next tick (mayComplete): then with it.
    this.pendingHead = () => {
      this.res.writeStatus(`${status} ${reasonPhrase(status, reason)}`);
      for (const [k, v] of keep) this.res.writeHeader(k, v);
      if (close) this.res.writeHeader('Connection', 'close');
      if (noBody && bodyLength !== null) this.res.writeHeader('Content-Length', String(bodyLength));
    };
    queueMicrotask(() => {
      if (this.pendingHead && !this.completeScheduled && !this.abortedFlag && !this.killed) this.cork(noop);
    });
  }

  write(chunk: Buffer): boolean {
    if (!this.startedFlag) throw new Error('ResponseSink.write() before start()');
    if (this.abortedFlag || this.killed || this.responseDone || this.endRequested) return true;
    if (this.noBody || chunk.length === 0) return true;
    if (this.bodyLength === null) {
      let ok = true;
      this.cork(() => {
        ok = this.res.write(chunk);
      });
      if (!ok) {
        this.needDrain = true;
        this.armWritable();
        return false;
      }
      return true;
    }
    if (this.accepted + chunk.length > this.bodyLength) {
      this.listener.log.warn({ path: this.head.target, announced: this.bodyLength }, 'response body longer than announced: connection closed');
      this.destroy();
      return false;
    }
    this.accepted += chunk.length;
    if (this.accepted === this.bodyLength && !this.bodyComplete) this.body?.discard();
    this.out.push(chunk);
    this.pump();
    if (this.partial || this.out.length > 0) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  onDrain(cb: () => void): void {
    this.drainCbs.push(cb);
  }

  end(): void {
    if (!this.startedFlag) throw new Error('ResponseSink.end() before start()');
    if (this.endRequested) return;
    this.endRequested = true;
    if (this.abortedFlag || this.killed || this.responseDone) return;
    // The response is complete from the proxy's side: whatever body is still coming is not needed.
    if (!this.bodyComplete) this.body?.discard();
    if (this.bodyLength !== null && this.bodyLength > 0 && this.accepted < this.bodyLength) {
      this.listener.log.warn({ path: this.head.target, announced: this.bodyLength, sent: this.accepted }, 'response body shorter than announced: connection closed');
      this.destroy();
      return;
    }
    this.tryFinish();
  }

  destroy(): void {
    if (this.abortedFlag) return;
    this.kill();
  }

  onAbort(cb: () => void): void {
    if (this.abortedFlag) queueMicrotask(cb);
    else this.abortCbs.push(cb);
  }

  // ----- response internals -----

  private cork(fn: () => void): void {
    try {
      const head = this.pendingHead;
      if (head) {
        this.pendingHead = null;
        this.res.cork(() => {
          head();
          fn();
        });
        return;
      }
      this.res.cork(fn);
    } catch (err) {
      // res was invalidated (aborted): the abort path has run or will run
      if (!this.abortedFlag) this.listener.log.debug({ err }, 'write on an invalid uWS response');
    }
  }

  /**
   * May the response be completed now? Not in a turn where uWS's parse loop ran once the request
   * body is complete: the moment a response completes, uWS is free to dispatch the next request
   * on this socket, so our data handler must be installed again first — and uWS drops it after
   * the last body chunk and undoes a re-install made inside that callback (MEASURED). So the
   * last bytes (or the final end) wait for the next tick; the response stays pending meanwhile
   * (uWS closes a socket that pipelines onto a pending response).
   * An early answer (request body still arriving) completes at once; the connection's data
   * handler keeps routing the rest of the body, and afterLastChunk re-installs it.
   */
  private mayComplete(): boolean {
    return !this.bodyComplete || !inParseTurn;
  }

  private scheduleComplete(): void {
    if (this.completeScheduled) return;
    this.completeScheduled = true;
    atTick(() => {
      this.completeScheduled = false;
      this.pump();
      this.tryFinish();
    });
  }

  /** Known length: hand queued chunks to tryEnd while uWS takes them. */
  private pump(): void {
    while (!this.partial && this.out.length > 0 && !this.abortedFlag && !this.killed && !this.responseDone) {
      const chunk = this.out[0]!;
      if (this.handed + chunk.length === this.bodyLength && !this.mayComplete()) {
        this.scheduleComplete();
        return;
      }
      this.out.shift();
      this.handed += chunk.length;
      this.tryEndChunk(chunk);
    }
    if (!this.partial && this.out.length === 0) this.fireDrain();
  }

  private tryEndChunk(chunk: Buffer): void {
    let ok = false;
    let done = false;
    let base = 0;
    const closesBefore = this.listener.socketCloses;
    this.cork(() => {
      base = this.res.getWriteOffset();
      [ok, done] = this.res.tryEnd(chunk, this.bodyLength!);
    });
    if (done) {
      this.finished(closesBefore);
      return;
    }
    if (!ok && !this.abortedFlag) {
      this.partial = { chunk, base };
      this.armWritable();
    }
  }

  private armWritable(): void {
    if (this.writableArmed || this.abortedFlag) return;
    this.writableArmed = true;
    try {
      this.res.onWritable((offset) => this.onWritable(offset));
    } catch {
      // invalid res: abort path
    }
  }

  private onWritable(offset: number): boolean {
    try {
      if (this.abortedFlag || this.responseDone) return true;
      if (this.partial) {
        const { chunk, base } = this.partial;
        let ok = false;
        let done = false;
        const closesBefore = this.listener.socketCloses;
        this.cork(() => {
          [ok, done] = this.res.tryEnd(chunk.subarray(offset - base), this.bodyLength!);
        });
        if (done) {
          this.partial = null;
          this.finished(closesBefore);
          return true;
        }
        if (!ok) return false;
        this.partial = null;
      } else if (this.bodyLength === null) {
        // Chunked: uWS does not drain its own buffer when an onWritable handler is set; an empty
        // cork makes it write what it holds (uncork → write(nullptr, 0)).
        this.cork(() => {});
      }
      this.pump();
      if (!this.partial && this.out.length === 0) this.fireDrain();
      return true;
    } catch (err) {
      this.listener.log.error({ err }, 'onWritable failed');
      return true;
    }
  }

  private fireDrain(): void {
    if (!this.needDrain) return;
    this.needDrain = false;
    const cbs = this.drainCbs;
    this.drainCbs = [];
    runCallbacks(cbs, this.listener.log, 'onDrain');
  }

  /** Chunked / no body / zero length: finish once end() was called and completion is allowed. */
  private tryFinish(): void {
    if (!this.endRequested || this.responseDone || this.abortedFlag || this.killed) return;
    if (this.bodyLength !== null && this.bodyLength > 0) return; // known length completes in tryEnd (pump)
    if (!this.mayComplete()) {
      this.scheduleComplete();
      return;
    }
    const closesBefore = this.listener.socketCloses;
    if (this.noBody) this.cork(() => this.res.endWithoutBody());
    else this.cork(() => this.res.end());
    this.finished(closesBefore);
  }

  private finished(closesBefore: number): void {
    if (this.responseDone) return;
    this.responseDone = true;
    // A producer paused on write() === false must hear that the response is done (it waits for
    // drain before it finishes its own side, e.g. undici's onComplete after a paused onData).
    this.fireDrain();
    this.drainCbs = [];
    this.listener.exchangeFinished(this, this.listener.socketCloses !== closesBefore);
  }
}

function sendInternalError(sink: ResponseSink): void {
  const body = Buffer.from('500 Internal Server Error\n');
  sink.start(500, 'Internal Server Error', [['content-type', 'text/plain; charset=utf-8']], body.length, false);
  sink.write(body);
  sink.end();
}

// ---------------------------------------------------------------------------------------------

class UwsListener implements FrontListener {
  readonly name: string;
  port = 0;
  closing = false;
  /** Sockets closed so far (uWS `filter` -1): lets a caller notice a close inside its own call. */
  socketCloses = 0;
  readonly inflight = new Set<UwsExchange>();
  /** Chunked requests waiting for their first chunk to learn their connection (socket paused). */
  readonly awaiting = new Set<UwsExchange>();
  /** Per client address, the one waiting chunked request whose socket is resumed right now. */
  private readonly resumed = new Map<string, UwsExchange>();
  private readonly conns = new Set<UwsConn>();
  private app: TemplatedApp | null = null;
  private listenSocket: us_listen_socket | null = null;
  private openSockets = 0;
  /** Address of an unbound request we are closing right now (reject / drop), for attributeClose. */
  unboundClosing: string | null = null;
  private requests = 0;
  private rejectedCount = 0;
  private closePromise: Promise<void> | null = null;
  private serverNames: UwsServerNames | null = null;

  constructor(
    readonly cfg: ListenerConfig,
    readonly handler: RequestHandler,
    readonly log: FrontLog,
    private certs: ListenerCerts,
  ) {
    this.name = cfg.name;
  }

  async listen(): Promise<void> {
    const uws = loadUws();
    let app: TemplatedApp;
    try {
      const d = this.certs.defaultCert;
      app = uws.SSLApp({ cert_file_name: d.certFile, key_file_name: d.keyFile });
    } catch (err) {
      throw new Error(`listener ${this.name}: uWS could not load TLS cert ${this.certs.defaultCert.certFile} / key ${this.certs.defaultCert.keyFile}: ${(err as Error).message}`);
    }
    this.app = app;
    app.filter((res, count) => this.onFilter(res, Number(count)));
    const route = (a: TemplatedApp): void => void a.any('/*', (res, req) => this.onRequest(res, req));
    route(app);
    this.serverNames = new UwsServerNames(app, route);
    this.serverNames.apply(this.certs);
    const { host, port } = this.cfg.bind;
    this.listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      app.listen(host, port, (ls) => {
        if (ls) resolve(ls);
        else reject(new Error(`listener ${this.name}: uWS could not listen on ${host}:${port}`));
      });
    });
    this.port = uws.us_socket_local_port(this.listenSocket as never);
  }

  stats(): ListenerCounters {
    return { connections: this.openSockets, requests: this.requests, rejected: this.rejectedCount };
  }

  certificates(): ListenerCerts {
    return this.certs;
  }

  reloadCertificates(certs: ListenerCerts): void {
    if (certs.defaultCert.fingerprint256 !== this.certs.defaultCert.fingerprint256) {
      this.log.warn({ cert: certs.defaultCert.certFile }, 'uws engine: clients without SNI keep the start-up default certificate until a restart (uWS cannot replace it); clients sending one of its DNS names get the new one');
    }
    this.serverNames?.apply(certs);
    this.certs = certs;
  }

  /** Bookkeeping sizes, for tests: tracked connections must match open sockets. */
  debugState(): { openSockets: number; trackedConns: number; inflight: number; awaiting: number } {
    return { openSockets: this.openSockets, trackedConns: this.conns.size, inflight: this.inflight.size, awaiting: this.awaiting.size };
  }

  close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.closePromise ??= this.doClose(graceMs);
    return this.closePromise;
  }

  private async doClose(graceMs: number): Promise<void> {
    this.closing = true;
    const uws = loadUws();
    if (this.listenSocket) {
      uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    for (const conn of [...this.conns]) {
      if (!conn.current && !conn.body) this.closeConn(conn);
    }
    const deadline = Date.now() + graceMs;
    while (this.openSockets > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      for (const conn of [...this.conns]) {
        if (!conn.current && !conn.body) this.closeConn(conn);
      }
    }
    if (this.openSockets > 0) this.log.warn({ open: this.openSockets }, 'closing listener: cutting connections still open after the grace period');
    this.app?.close();
    this.app = null;
  }

  // ----- connections -----

  private onFilter(res: HttpResponse, count: number): void {
    try {
      if (count > 0) {
        this.openSockets++;
        const conn = new UwsConn(nextClientConnId(), addressText(res), res);
        this.conns.add(conn);
        this.armAbort(conn);
        this.armData(conn);
      } else {
        this.openSockets--;
        this.socketCloses++;
        this.attributeClose();
      }
    } catch (err) {
      this.log.error({ err }, 'uws filter callback failed');
    }
  }

  /**
   * A socket is closing (`filter` -1, before uWS calls its onAborted). Closes are normally
   * attributed by the onAborted that follows (connection-level, or the request's once it is bound
   * to its connection). A request not bound yet (parked until its data handler call, a chunked
   * request waiting for its first chunk, or one we are rejecting/dropping) has replaced the
   * connection-level onAborted, so nothing would tell us which connection closed: its handle
   * would dangle (uWS frees the socket at the end of the loop turn). For those addresses only,
   * find the closing socket now — it is the one whose peer address reads empty (MEASURED) — and
   * forget it. Cheap: runs only while such requests exist, and only over their addresses. (A
   * live socket whose peer reset also reads empty; forgetting it early is harmless: it is never
   * touched again, its later requests find no data handler and are dropped.)
   */
  private attributeClose(): void {
    const ips = new Set<string>();
    if (pendingSync && pendingSync.listener === this) ips.add(pendingSync.remote);
    for (const e of this.awaiting) ips.add(e.remote);
    if (this.unboundClosing !== null) ips.add(this.unboundClosing);
    if (ips.size === 0) return;
    // A request whose peer had already reset reads its address as '': then any idle connection
    // may be the one.
    const any = ips.has('');
    for (const conn of [...this.conns]) {
      if (!conn.handle || conn.current || conn.body || (!any && !ips.has(conn.ip))) continue;
      if (addressText(conn.handle) === '') this.connGone(conn);
    }
  }

  private armData(conn: UwsConn): void {
    const h = conn.handle;
    if (!h || conn.dataArmed) return;
    try {
      h.onData((ab, last) => this.onConnData(conn, ab, last));
      conn.dataArmed = true;
    } catch {
      this.connGone(conn);
    }
  }

  private armAbort(conn: UwsConn): void {
    const h = conn.handle;
    if (!h) return;
    try {
      h.onAborted(() => this.connGone(conn));
    } catch {
      this.connGone(conn);
    }
  }

  /** Close a client connection (deferred to the next tick inside a parse turn, see kill()). */
  closeConn(conn: UwsConn, immediate = false): void {
    if (!immediate && inParseTurn) {
      atTick(() => this.closeConn(conn, true));
      return;
    }
    const h = conn.handle;
    if (!h) return;
    try {
      h.close(); // fires the connection-level onAborted (or the request's) → connGone
    } catch {
      // already invalid
    }
    this.connGone(conn);
  }

  /** The socket is closed (or its handle unusable): forget it and fail what still needed it. */
  connGone(conn: UwsConn): void {
    if (!this.conns.delete(conn)) return;
    conn.handle = null;
    conn.dataArmed = false;
    const b = conn.body;
    const c = conn.current;
    conn.body = null;
    conn.current = null;
    b?.connectionLost();
    if (c && c !== b) c.connectionLost();
    conn.client.markClosed((err) => this.log.error({ err }, 'client close callback threw'));
  }

  // ----- requests -----

  private onRequest(res: HttpResponse, req: HttpRequest): void {
    enterParseTurn();
    try {
      this.handleRequest(res, req);
    } catch (err) {
      this.log.error({ err }, 'uws request handler failed');
      try {
        res.close();
      } catch {
        // already closed / responded
      }
    }
  }

  private handleRequest(res: HttpResponse, req: HttpRequest): void {
    const receivedAt = performance.now();
    // Copy everything now: `req` is only valid during this call.
    const loweredMethod = req.getMethod();
    const path = req.getUrl();
    const query = req.getQuery() as string | undefined;
    const headers: HeaderList = [];
    req.forEach((k, v) => {
      headers.push([k, v]);
    });
    const uwsCloses = req.getHeader('connection').length === 5;
    const head: HeadCopy = { loweredMethod, target: query === undefined || query === null ? path : `${path}?${query}`, headers, uwsCloses };
    const exch = new UwsExchange(this, res, addressText(res), receivedAt, head);
    res.onAborted(() => exch.onRequestAborted());
    this.requests++;

    // The previous non-chunked request should have been bound by its data handler already; a
    // previous chunked one whose first chunk was not buffered stays parked (its socket paused).
    lastChunked = null;
    let behindRejected = false;
    if (pendingSync) {
      const p = pendingSync;
      pendingSync = null;
      // A rejection whose close was postponed waits for its own data handler call to mark its
      // connection closing; if that never came, be conservative with this address.
      behindRejected = p.rejected && p.remote === exch.remote;
      p.listener.unidentified(p, 'request was not followed by its connection data');
    }
    // While this request's own data handler call may follow, no other socket of this address may
    // deliver a first chunk: pause the one parked chunked request that was resumed (see bindNext).
    const resumedOne = this.resumed.get(exch.remote);
    if (resumedOne) {
      this.resumed.delete(exch.remote);
      pauseRes(resumedOne.res);
      atTick(() => this.resumeParked());
    }
    if (behindRejected) {
      this.drop(exch, 'pipelined behind a rejected request', true);
      return;
    }
    const method = restoreUwsMethod(loweredMethod);
    const rejection =
      method === null ? { status: 400, reason: 'invalid or unrecoverable method token' } : validateRequest({ method, target: head.target, httpVersion: '1.1', headers });
    if (rejection) {
      this.reject(exch, rejection);
      return;
    }
    const framing = bodyFraming(headers);
    exch.accept(method!, framing);
    if (framing.chunked) {
      // uWS calls the data handler only when the first chunk arrives (MEASURED): at once if it is
      // already buffered (also after pause(), MEASURED), else later. Park the request with its
      // socket paused; parked requests of one address are resumed one at a time (resumeParked),
      // so a first chunk arriving later is attributable without doubt.
      pauseRes(res);
      this.awaiting.add(exch);
      lastChunked = exch;
      exch.awaitTimer = setTimeout(() => {
        if (this.awaiting.has(exch)) this.drop(exch, 'no request body data arrived');
      }, Math.max(1000, this.cfg.timeouts.httpRequest));
      exch.awaitTimer.unref();
      atTick(() => this.resumeParked());
    } else {
      pendingSync = exch;
      atTick(noop);
    }
  }

  /** Answer 4xx + Connection: close and make sure uWS serves nothing behind it. */
  private reject(exch: UwsExchange, rej: Rejection): void {
    this.rejectedCount++;
    exch.rejected = true;
    exch.responseDone = true;
    const res = exch.res;
    const status = `${rej.status} ${STATUS_CODES[rej.status] ?? 'Bad Request'}`;
    const body = `${status}: ${rej.reason}\n`.padEnd(REJECT_PAD, ' ');
    const closesBefore = this.socketCloses;
    this.unboundClosing = exch.remote;
    try {
      res.writeStatus(status);
      res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
      // uWS writes its own Connection: close for end(…, true) unless it already planned to close.
      if (exch.head.uwsCloses) res.writeHeader('Connection', 'close');
      res.end(body, true);
    } catch (err) {
      this.log.error({ err }, 'could not send rejection');
      try {
        res.close();
      } catch {
        // gone
      }
    } finally {
      this.unboundClosing = null;
    }
    this.log.debug({ client: exch.remote, reason: rej.reason, status: rej.status }, 'rejected request');
    if (this.socketCloses === closesBefore) {
      // The 400 could not be flushed (client gone or not reading), so uWS postponed the close
      // and keeps parsing. The request's own data handler call (it follows synchronously) binds
      // it to its connection and marks that connection closing: whatever is parsed behind it is
      // dropped at binding (UwsExchange.bind), and the connection is closed (afterLastChunk).
      pendingSync = exch;
      atTick(noop);
    }
  }

  /** A request we cannot attribute to a connection safely: close its connection, no answer. */
  unidentified(exch: UwsExchange, why: string): void {
    if (exch.rejected) return;
    this.drop(exch, why);
  }

  drop(exch: UwsExchange, why: string, immediate = false): void {
    this.rejectedCount++;
    this.log.warn({ client: exch.remote, method: exch.head.loweredMethod, path: exch.head.target, why }, 'request dropped, client connection closed');
    this.unpark(exch);
    exch.kill(immediate);
  }

  private onConnData(conn: UwsConn, ab: ArrayBuffer, last: boolean): void {
    enterParseTurn();
    try {
      // Copy: uWS neuters the ArrayBuffer when this callback returns.
      const chunk = ab.byteLength > 0 ? Buffer.from(new Uint8Array(ab)) : EMPTY_BUFFER;
      let exch = conn.body;
      if (!exch) {
        exch = this.bindNext(conn);
        if (!exch) return;
      }
      if (last) {
        // uWS removes its data handler after the last chunk of a request.
        conn.body = null;
        conn.dataArmed = false;
      }
      exch.onBodyData(chunk, last);
      if (last) this.afterLastChunk(conn, exch);
    } catch (err) {
      this.log.error({ err }, 'uws data handler failed');
    }
  }

  /**
   * First data-handler call for a new request on `conn`: find that request.
   *  - right after a request handler of the same address (pendingSync / lastChunked): that
   *    request's own call — uWS makes it synchronously after the handler, and every other socket
   *    of the address that could deliver a first chunk was paused by that handler;
   *  - otherwise the first chunk of the one parked chunked request of this address whose socket
   *    is resumed;
   *  - anything else cannot be attributed: the connection is closed.
   */
  private bindNext(conn: UwsConn): UwsExchange | null {
    const ip = conn.ip;
    const p = pendingSync;
    const lc = lastChunked;
    let exch: UwsExchange | null = null;
    if (p && p.listener === this && p.remote === ip) {
      pendingSync = null;
      exch = p;
    } else if (lc && lc.listener === this && lc.remote === ip) {
      lastChunked = null;
      exch = lc;
    } else {
      // Another socket's event: the previous handler's synchronous window is over.
      lastChunked = null;
      if (p) {
        pendingSync = null;
        p.listener.unidentified(p, 'could not attribute the request to its connection');
      }
      const r = this.resumed.get(ip);
      if (!r) {
        this.log.warn({ client: ip }, 'request data on a connection it cannot be attributed to: connection closed');
        this.rejectedCount++;
        this.closeConn(conn);
        return null;
      }
      exch = r;
    }
    if (this.awaiting.has(exch)) {
      this.unpark(exch);
      resumeRes(exch.res);
      atTick(() => this.resumeParked());
    }
    exch.bind(conn);
    if (exch.aborted || exch.rejected) return conn.handle ? exch : null;
    return exch;
  }

  /** Forget a parked chunked request (bound, aborted or dropped). */
  unpark(exch: UwsExchange): void {
    this.awaiting.delete(exch);
    if (this.resumed.get(exch.remote) === exch) {
      this.resumed.delete(exch.remote);
      atTick(() => this.resumeParked());
    }
  }

  /** Outside any handler's window: resume one parked chunked request per client address. */
  private resumeParked(): void {
    if (this.awaiting.size === 0 || lastChunked !== null || pendingSync !== null) return;
    for (const e of this.awaiting) {
      if (this.resumed.has(e.remote)) continue;
      this.resumed.set(e.remote, e);
      resumeRes(e.res);
    }
  }

  /** The last request-body chunk went by; uWS dropped our data handler. */
  private afterLastChunk(conn: UwsConn, exch: UwsExchange): void {
    if (!conn.handle || !exch.responseDone) return; // re-armed when the response completes
    if (exch.rejected) {
      // A rejection whose close uWS had to postpone (the 400 could not be flushed: client gone or
      // not reading). Close it (on the next tick: never inside its own data callback).
      this.closeConn(conn);
      return;
    }
    // Early answer: the response completed before the request body did. The connection is idle
    // without a data handler until the next tick (uWS undoes one installed now). A request that
    // arrives meanwhile finds no data handler and is dropped (unidentified) — it cannot be
    // mistaken for another socket's, because every request handler pauses the one resumed
    // parked chunked request of its address (bindNext). (Not paused itself: a socket we might
    // later forget must never be left paused, uWS would keep it forever.)
    atTick(() => {
      if (!conn.handle) return;
      if (this.closing) {
        this.closeConn(conn);
        return;
      }
      this.armData(conn);
    });
  }

  /** A response completed (outside uWS's parse loop, or early, before the request body's end). */
  exchangeFinished(exch: UwsExchange, socketClosedMeanwhile: boolean): void {
    this.inflight.delete(exch);
    const conn = exch.conn;
    if (!conn) return;
    if (conn.current === exch) conn.current = null;
    if (socketClosedMeanwhile) {
      // uWS closed it inside our call (Connection: close); markDone had cleared the request's
      // onAborted, so nothing else will tell us.
      this.connGone(conn);
      return;
    }
    if (!conn.handle) return;
    this.armAbort(conn);
    if (conn.body === null) this.armData(conn);
    if (this.closing) atTick(() => this.closeConn(conn));
  }
}

function noop(): void {}

export async function startUwsListener(cfg: ListenerConfig, handler: RequestHandler, log: FrontLog, certs: ListenerCerts): Promise<FrontListener> {
  const l = new UwsListener(cfg, handler, log, certs);
  await l.listen();
  return l;
}
