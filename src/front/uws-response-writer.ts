/**
 * The response half of a uws exchange (the ResponseSink handed to the proxy): status + headers,
 * body writes with cork/tryEnd/backpressure, completion deferral out of uWS's parse loop.
 * UwsExchange (uws-exchange.ts) adds the request side. Engine overview and what MEASURED means:
 * uws-listener.ts.
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
 */
import type { HttpResponse } from '@based/uws';
import type { HeaderList, ResponseSink } from '../core/types.js';
import { runCallbacks } from '../core/run-callbacks.js';
import type { RequestBody } from '../core/request-body.js';
import { reasonPhrase, responseHeadersToWrite, type FrontLog } from './front-common.js';
import type { UwsConn } from './uws-conn.js';
import { noop } from './uws-module.js';
import { atTick, parseTurn } from './uws-parse-turn.js';

/** A header value or reason with bytes above 0x7F (written as latin1 bytes, see start()). */
const NON_ASCII_RE = /[\x80-\xff]/;

/** What the response side needs from its listener. */
export interface UwsWriterHost {
  readonly log: FrontLog;
  readonly closing: boolean;
  /** Sockets closed so far (uWS `filter` -1): lets a caller notice a close inside its own call. */
  readonly socketCloses: number;
}

/**
 * Response state and the ResponseSink methods of a UwsExchange. The request-side state they read
 * (set by UwsExchange) is declared abstract here.
 */
export abstract class UwsResponseWriter implements ResponseSink {
  abstract readonly listener: UwsWriterHost;
  abstract readonly res: HttpResponse;
  abstract readonly head: { readonly target: string; readonly uwsCloses: boolean };
  abstract readonly conn: UwsConn | null;
  abstract readonly wantsClose: boolean;
  abstract readonly body: RequestBody | null;
  /** The last chunk of the request body was seen. */
  abstract readonly bodyComplete: boolean;
  /** Close the connection without (more) response: UwsExchange.kill(). */
  abstract kill(immediate?: boolean): void;
  /** The response is complete on uWS's side (`finished`); tells the listener. */
  protected abstract responseFinished(socketClosedMeanwhile: boolean): void;

  // response state
  protected startedFlag = false;
  protected abortedFlag = false;
  /** kill() was called (the close may still be pending until the next tick). */
  protected killed = false;
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

  get started(): boolean {
    return this.startedFlag;
  }
  get aborted(): boolean {
    return this.abortedFlag;
  }

  protected fireAbort(): void {
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
      const statusLine = `${status} ${reasonPhrase(status, reason)}`;
      this.res.writeStatus(NON_ASCII_RE.test(statusLine) ? Buffer.from(statusLine, 'latin1') : statusLine);
      // MEASURED: uWS writes a JS string as UTF-8; the value's bytes are latin1 (as undici gave
      // them), so non-ASCII values go as those bytes, unchanged.
      for (const [k, v] of keep) this.res.writeHeader(k, NON_ASCII_RE.test(v) ? Buffer.from(v, 'latin1') : v);
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
    return !this.bodyComplete || !parseTurn.inParseTurn;
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
    this.responseFinished(this.listener.socketCloses !== closesBefore);
  }
}
