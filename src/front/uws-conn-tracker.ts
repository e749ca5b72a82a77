/**
 * Connection tracking for the uws engine: the client connections uWS's `filter` reports, the
 * connection-level data and abort handlers, and the attribution of each request to its
 * connection (binding, parking of chunked requests, closes of unbound requests). UwsListener
 * (uws-listener.ts, with the engine overview) extends it.
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
 */
import type { HttpResponse } from '@based/uws';
import type { ListenerConfig } from '../config/config-types.js';
import type { RequestHandler } from '../core/types.js';
import { EMPTY_BUFFER, nextClientConnId, type FrontLog } from './front-common.js';
import { UwsConn } from './uws-conn.js';
import type { UwsExchange, UwsExchangeHost } from './uws-exchange.js';
import { addressText, resumeRes } from './uws-module.js';
import { atTick, enterParseTurn, parseTurn } from './uws-parse-turn.js';

/**
 * The connection side of UwsListener, and with it the listener the exchanges talk to
 * (UwsExchangeHost). What it needs from the listener itself is abstract here.
 */
export abstract class UwsConnTracker implements UwsExchangeHost {
  abstract readonly name: string;
  abstract readonly cfg: ListenerConfig;
  abstract readonly handler: RequestHandler;
  abstract readonly log: FrontLog;
  abstract closing: boolean;
  abstract readonly inflight: Set<UwsExchange>;
  protected abstract rejectedCount: number;
  abstract drop(exch: UwsExchange, why: string, immediate?: boolean): void;
  abstract unidentified(exch: UwsExchange, why: string): void;

  /** Sockets closed so far (uWS `filter` -1): lets a caller notice a close inside its own call. */
  socketCloses = 0;
  /** Chunked requests waiting for their first chunk to learn their connection (socket paused). */
  readonly awaiting = new Set<UwsExchange>();
  /** Per client address, the one waiting chunked request whose socket is resumed right now. */
  protected readonly resumed = new Map<string, UwsExchange>();
  protected readonly conns = new Set<UwsConn>();
  protected openSockets = 0;
  /** Address of an unbound request we are closing right now (reject / drop), for attributeClose. */
  unboundClosing: string | null = null;

  protected onFilter(res: HttpResponse, count: number): void {
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
    if (parseTurn.pendingSync && parseTurn.pendingSync.listener === this) ips.add(parseTurn.pendingSync.remote);
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
    if (!immediate && parseTurn.inParseTurn) {
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
    const p = parseTurn.pendingSync;
    const lc = parseTurn.lastChunked;
    let exch: UwsExchange | null = null;
    if (p && p.listener === this && p.remote === ip) {
      parseTurn.pendingSync = null;
      exch = p;
    } else if (lc && lc.listener === this && lc.remote === ip) {
      parseTurn.lastChunked = null;
      exch = lc;
    } else {
      // Another socket's event: the previous handler's synchronous window is over.
      parseTurn.lastChunked = null;
      if (p) {
        parseTurn.pendingSync = null;
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
  protected resumeParked(): void {
    if (this.awaiting.size === 0 || parseTurn.lastChunked !== null || parseTurn.pendingSync !== null) return;
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
