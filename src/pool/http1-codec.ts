import type tls from 'node:tls';
import { LonghaulError, type ErrorCode } from '../core/errors.js';
import type { BodyReader } from '../core/request-body.js';
import { HTTPParser, type NativeParser, type OnHeadersComplete, type ParserError } from './llhttp-binding.js';

/**
 * The HTTP/1.1 client codec of ONE backend connection (issue 14 item 1; replaces undici):
 * requests written as one latin1 head string, responses parsed by Node's native llhttp
 * (llhttp-binding.ts), one exchange at a time (no pipelining), body streamed both ways with
 * back-pressure.
 *
 * Invariants (design "Faults"; chaos finding F8 — a request got another request's response):
 *  - EXCHANGE TOKEN. Every exchange gets a new generation number; settling it (response ended,
 *    error, abort from either side) bumps the generation and drops the handler BEFORE anything
 *    else. Every asynchronous path (socket data, FIN, error, drain, the request body's next()
 *    settling) and every parser callback checks its generation first: nothing that belongs to
 *    a settled exchange can reach its handler or a later exchange's, ever.
 *  - The codec owns the reuse verdict: `reusable` is true only after a cleanly framed exchange —
 *    the response read to its framed end, the whole request written, llhttp's shouldKeepAlive
 *    (no `Connection: close`, not HTTP/1.0 without keep-alive, not close-delimited), no byte
 *    after the response, socket open. An exchange that did not end cleanly destroys the
 *    socket at once (never released idle, never given to a waiter).
 *  - Idle (no exchange): any byte, FIN or error retires the connection (Pingora's rule): the
 *    codec never parses a byte it did not ask for; `onIdleClose` tells the owner.
 *  - Bytes from the server before the request head reached the socket are not an answer to it:
 *    the exchange fails (not-written) and the connection is destroyed.
 *
 * Reading: through Node's `onread` (net.Socket kBuffer mode, works with tls.connect on Node 20)
 * into one SocketReadBuffer per connection when the socket was opened with one (the pool's
 * connections, src/tls/connect-tls.ts `onread`); otherwise by 'data' events (health checks,
 * tests). Back-pressure from the client pauses reading; what was already read is still parsed
 * and delivered (MEASURED with onread on TLS: up to 3 more 16 KiB reads of already-decrypted
 * bytes after the callback returned false), so memory stays bounded by a few reads.
 */
export interface Http1Handler {
  /** Bytes moved (a body chunk written, response bytes read): the server is not silent. */
  onActivity(): void;
  /** The final response head (1xx are skipped). `rawHeaders` is the flat latin1 [name, value, …] list. */
  onResponseHead(status: number, rawHeaders: string[]): void;
  /** A piece of the response body (a copy). false: stop reading until `resume()`. */
  onResponseData(chunk: Buffer): boolean;
  /** The response ended at its framed end; `codec.reusable` holds the verdict. Last callback. */
  onResponseEnd(): void;
  /** The exchange failed; the socket is already destroyed. Last callback. */
  onError(err: LonghaulError): void;
}

export interface Http1Request {
  method: string;
  path: string;
  /** Flat [name, value, …]; Host and every end-to-end header come from here, as given. */
  headers: readonly string[];
  body: BodyReader | null;
}

export interface Http1Owner {
  /** The connection saw a byte, FIN or error while no exchange was running (or was closed). */
  onIdleClose(reason: string): void;
}

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: HTAB, visible ASCII, SP, obs-text (RFC 9110 §5.5); never CR, LF or NUL. */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** request-target: visible ASCII and obs-text, no SP or CTL. */
const BAD_TARGET = /[^\x21-\x7e\x80-\xff]/;
/** Methods whose request carries a body by definition: an absent one is sent as `content-length: 0` (as undici did). */
const EXPECTS_PAYLOAD = new Set(['POST', 'PUT', 'PATCH']);

const kOnMessageBegin = HTTPParser.kOnMessageBegin;
const kOnHeaders = HTTPParser.kOnHeaders;
const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
const kOnBody = HTTPParser.kOnBody;
const kOnMessageComplete = HTTPParser.kOnMessageComplete;

/** One read's worth: TLS delivers cleartext at most 16 KiB at a time (one record). */
const READ_BUFFER_BYTES = 16 * 1024;

/**
 * The `onread` option of one connection: one buffer reused for every read, and a trampoline to
 * the codec once it is attached. Bytes read before that (between the handshake and attach) are
 * counted: the codec then retires the connection at once (Pingora's rule).
 */
export class SocketReadBuffer {
  readonly buffer: Buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  early = 0;
  target: Http1Codec | null = null;
  readonly callback = (nread: number, buf: Uint8Array): boolean => {
    const codec = this.target;
    if (codec === null) {
      this.early += nread;
      return true;
    }
    return codec.onRead(buf as Buffer, nread);
  };
}

export class Http1Codec {
  readonly #socket: tls.TLSSocket;
  readonly #owner: Http1Owner;
  readonly #parser: NativeParser;
  /** The exchange token: bumped by start() and by every settlement. */
  #gen = 0;
  #handler: Http1Handler | null = null;
  /** Generation the current execute()/finish() runs for; parser callbacks compare it to #gen. */
  #parsing = -1;

  // ----- per-exchange state (reset by start()) -----
  #headOnly = false;
  /** The request head string, until it goes out with the first body chunk (or now, bodiless). */
  #pendingHead: string | null = null;
  #body: BodyReader | null = null;
  #chunked = false;
  /** Declared request Content-Length, or -1 (chunked / none). */
  #length = -1;
  #sent = 0;
  #requestDone = false;
  #waitingDrain = false;
  #headers: string[] = [];
  #final = false;
  #responseDone = false;
  #keepAlive = false;
  /** A byte after the response's framed end, in the same read. */
  #extra = false;
  #paused = false;
  #reusable = false;
  #closed = false;

  /** Reading through `onread` (pausing = returning false) rather than 'data' events. */
  readonly #onread: boolean;

  /** `reader`: the SocketReadBuffer the socket was opened with (tls.connect `onread`), if any. */
  constructor(socket: tls.TLSSocket, owner: Http1Owner, reader?: SocketReadBuffer) {
    this.#socket = socket;
    this.#owner = owner;
    this.#onread = reader !== undefined;
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    p[kOnMessageBegin] = this.#onMessageBegin;
    p[kOnHeaders] = this.#onHeaders;
    p[kOnHeadersComplete] = this.#onHeadersComplete;
    p[kOnBody] = this.#onBody;
    p[kOnMessageComplete] = this.#onMessageComplete;
    this.#parser = p;
    if (reader) {
      reader.target = this;
      // Bytes came before anyone asked: not a clean connection. The owner sees the socket
      // destroyed right after attach (BackendConnection.attach) and closes it.
      if (reader.early > 0) this.#destroy('server sent bytes on an unused connection');
    } else socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onSocketError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
  }

  /** An exchange is running. */
  get busy(): boolean {
    return this.#handler !== null;
  }

  /** Verdict of the last exchange: it ended cleanly and the connection may carry another one. */
  get reusable(): boolean {
    return this.#reusable && !this.#closed && !this.#socket.destroyed && !this.#socket.readableEnded && !this.#socket.writableEnded;
  }

  /**
   * Starts one exchange. Throws LH_CLIENT_BAD_REQUEST (nothing written, the codec stays usable)
   * for a method, target or header it will not write; otherwise every outcome reaches `handler`
   * exactly once (onResponseEnd or onError), unless abort() settles it first.
   */
  start(req: Http1Request, handler: Http1Handler): void {
    if (this.#handler) throw new LonghaulError('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection is busy with another exchange');
    if (this.#closed || this.#socket.destroyed) throw new LonghaulError('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection closed');
    // Structural, whatever the pool does: after an exchange that did not end cleanly, never another.
    if (this.#gen > 0 && !this.reusable) throw new LonghaulError('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection is not reusable after its last exchange');
    const head = this.#buildHead(req);
    this.#gen++;
    this.#handler = handler;
    this.#reusable = false;
    this.#headOnly = req.method === 'HEAD';
    this.#body = req.body;
    this.#sent = 0;
    this.#requestDone = false;
    this.#waitingDrain = false;
    this.#headers = [];
    this.#final = false;
    this.#responseDone = false;
    this.#keepAlive = false;
    this.#extra = false;
    if (req.body === null) {
      this.#pendingHead = null;
      this.#requestDone = true;
      this.#socket.write(head + '\r\n', 'latin1');
      return;
    }
    // As undici did: the head goes out with the first body chunk (a body that waits for its
    // client keeps the exchange `not-written`, so it stays retryable).
    this.#pendingHead = head;
    this.#pump(this.#gen);
  }

  /**
   * Settles the running exchange from the caller's side (server timeout, client abort, drain
   * limit): no callback reaches its handler afterwards, and the socket is destroyed.
   */
  abort(reason: string): void {
    if (!this.#handler) return;
    this.#settle();
    this.#destroy(reason);
  }

  /** Reads again after onResponseData returned false (for the same exchange only). */
  resume(): void {
    if (!this.#handler || !this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }

  /** Frees the native parser; the socket is the owner's. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settle();
    this.#parser.close();
  }

  // ----- request -----

  #buildHead(req: Http1Request): string {
    const { method, path, headers } = req;
    if (!TOKEN.test(method)) throw bad(`invalid request method`);
    if (path.length === 0 || BAD_TARGET.test(path)) throw bad('invalid request target');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let length = -1;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!TOKEN.test(name)) throw bad(`invalid header name ${JSON.stringify(name)}`);
      if (BAD_VALUE.test(value)) throw bad(`invalid ${name} header value`);
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (length !== -1 || !/^\d{1,15}$/.test(value)) throw bad('invalid content-length header');
        length = Number(value);
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        // Framing is the codec's (hop-headers.ts strips the client's): never two framings.
        throw bad('transfer-encoding is set by the codec');
      }
      head += `${name}: ${value}\r\n`;
    }
    const body = req.body;
    if (body === null) {
      if (length > 0) throw bad(`content-length ${length} without a body`);
      if (length === -1 && EXPECTS_PAYLOAD.has(method)) head += 'content-length: 0\r\n';
      this.#chunked = false;
      this.#length = length;
      return head;
    }
    if (length === -1 && body.length !== null) {
      length = body.length;
      head += `content-length: ${length}\r\n`;
    }
    this.#length = length;
    this.#chunked = length === -1;
    return head;
  }

  #pump(gen: number): void {
    const body = this.#body!;
    body.next().then(
      (r) => this.#onBodyChunk(gen, r),
      (err: unknown) => this.#onBodyError(gen, err),
    );
  }

  #onBodyChunk(gen: number, r: IteratorResult<Buffer>): void {
    if (gen !== this.#gen) return;
    const socket = this.#socket;
    if (socket.destroyed) return this.#fail('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection closed while the request was written');
    if (r.done) {
      // A discarded body (RequestBody.discard: the response is already complete on the client's
      // side) ends its reader early: never framed as complete — the server would take a
      // truncated body as the whole request. The request stays unfinished, so the response's
      // end destroys the connection (#finishResponse).
      if (!this.#body!.done) return;
      if (this.#length !== -1 && this.#sent !== this.#length) return this.#fail('LH_CLIENT_BAD_REQUEST', `request body is ${this.#sent} bytes, content-length ${this.#length}`);
      const head = this.#pendingHead;
      this.#pendingHead = null;
      if (head !== null) {
        // An empty body: announced as such (undici: `content-length: 0`).
        socket.write(this.#length === -1 ? head + 'content-length: 0\r\n\r\n' : head + '\r\n', 'latin1');
      } else if (this.#chunked) socket.write('0\r\n\r\n', 'latin1');
      this.#requestDone = true;
      this.#handler!.onActivity();
      return;
    }
    const chunk = r.value;
    if (this.#length !== -1 && this.#sent + chunk.length > this.#length) return this.#fail('LH_CLIENT_BAD_REQUEST', `request body longer than content-length ${this.#length}`);
    this.#sent += chunk.length;
    const head = this.#pendingHead;
    this.#pendingHead = null;
    let ok: boolean;
    socket.cork();
    if (this.#chunked) {
      const size = `${chunk.length.toString(16)}\r\n`;
      socket.write(head !== null ? head + 'transfer-encoding: chunked\r\n\r\n' + size : size, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else {
      if (head !== null) socket.write(head + '\r\n', 'latin1');
      ok = socket.write(chunk);
    }
    socket.uncork();
    this.#handler!.onActivity();
    if (gen !== this.#gen) return;
    if (ok) this.#pump(gen);
    else this.#waitingDrain = true;
  }

  #onBodyError(gen: number, err: unknown): void {
    if (gen !== this.#gen) return;
    // The body's own failure (client abort, slow upload, a retry took the reader): its code.
    const e = err instanceof LonghaulError ? err : new LonghaulError('LH_CLIENT_ABORTED', `request body failed: ${(err as Error)?.message}`, { cause: err });
    const h = this.#settle();
    this.#destroy(e.message);
    h?.onError(e);
  }

  readonly #onDrain = (): void => {
    if (!this.#waitingDrain || !this.#handler) return;
    this.#waitingDrain = false;
    this.#pump(this.#gen);
  };

  // ----- response -----

  /** @internal the `onread` callback (SocketReadBuffer): false stops reading. */
  onRead(buf: Buffer, nread: number): boolean {
    this.#feed(buf.subarray(0, nread));
    return !this.#paused;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#feed(chunk);
  };

  /** Bytes from the server. With onread, `chunk` is a view of the reused read buffer: nothing keeps it (llhttp copies body pieces, headers are strings). */
  #feed(chunk: Buffer): void {
    if (!this.#handler) {
      this.#destroy('server sent bytes on an idle connection');
      this.#owner.onIdleClose('server sent bytes on an idle connection');
      return;
    }
    if (this.#closed) return;
    if (this.#pendingHead !== null) {
      return this.#fail('LH_CONN_CLOSED_BEFORE_RESPONSE', 'server sent bytes before the request was written');
    }
    this.#handler.onActivity();
    const gen = this.#gen;
    this.#parsing = gen;
    const ret = this.#parser.execute(chunk);
    this.#parsing = -1;
    if (gen !== this.#gen) return;
    if (typeof ret !== 'number') {
      if (this.#responseDone) this.#extra = true;
      else return this.#fail('LH_BAD_RESPONSE', `malformed response from server (${(ret as ParserError).code})`);
    }
    if (this.#responseDone) this.#finishResponse();
  }

  readonly #onEnd = (): void => {
    if (!this.#handler) {
      this.#destroy('server closed an idle connection');
      this.#owner.onIdleClose('server closed an idle connection');
      return;
    }
    if (this.#closed) return;
    const gen = this.#gen;
    this.#parsing = gen;
    // A close-delimited body ends here; a truncated head or body returns an error (ignored:
    // either way the server closed before the response's framed end).
    this.#parser.finish();
    this.#parsing = -1;
    if (gen !== this.#gen) return;
    if (this.#responseDone) return this.#finishResponse();
    this.#fail('LH_CONN_CLOSED_BEFORE_RESPONSE', 'server closed the connection before the response ended');
  };

  readonly #onSocketError = (err: Error): void => {
    if (!this.#handler) {
      this.#owner.onIdleClose(`socket error while idle: ${err.message}`);
      return;
    }
    this.#fail('LH_CONN_CLOSED_BEFORE_RESPONSE', `backend connection failed: ${err.message}`, err);
  };

  readonly #onClose = (): void => {
    if (this.#handler) this.#fail('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection closed');
    this.close();
  };

  // Parser callbacks: synchronous inside execute()/finish(); each one checks the token first.

  readonly #onMessageBegin = (): void => {
    if (this.#parsing !== this.#gen || this.#responseDone) this.#extra = true;
  };

  readonly #onHeaders = (headers: string[]): void => {
    if (this.#parsing !== this.#gen || this.#responseDone) return;
    for (let i = 0; i < headers.length; i++) this.#headers.push(headers[i]!);
  };

  readonly #onHeadersComplete: OnHeadersComplete = (_maj, _min, headers, _m, _u, status, _msg, upgrade, shouldKeepAlive) => {
    if (this.#parsing !== this.#gen || this.#responseDone) {
      this.#extra = true;
      return 1;
    }
    let raw = this.#headers;
    if (headers !== undefined) raw = raw.length === 0 ? headers : raw.concat(headers);
    this.#headers = [];
    if (status < 200 && status !== 101) return 1; // 1xx: informational, skipped; the final one follows
    if (status === 101 || upgrade) {
      // Never asked for: an upgrade would hand the connection to another protocol.
      this.#parsing = -1;
      this.#fail('LH_BAD_RESPONSE', `server answered ${status} upgrade that was never asked for`);
      return 1;
    }
    this.#final = true;
    this.#keepAlive = shouldKeepAlive;
    this.#handler!.onResponseHead(status, raw);
    // HEAD: no body whatever the framing headers say; 204/304 llhttp knows itself.
    return this.#headOnly ? 1 : 0;
  };

  readonly #onBody = (chunk: Buffer): void => {
    if (this.#parsing !== this.#gen || this.#responseDone) {
      this.#extra = true;
      return;
    }
    if (!this.#handler!.onResponseData(chunk) && this.#parsing === this.#gen && !this.#paused) {
      this.#paused = true;
      // With onread, the callback's false return stops reading (onRead).
      if (!this.#onread) this.#socket.pause();
    }
  };

  readonly #onMessageComplete = (): void => {
    if (this.#parsing !== this.#gen || this.#responseDone) {
      this.#extra = true;
      return;
    }
    if (!this.#final) return; // the end of a 1xx
    this.#responseDone = true;
  };

  /** The response reached its framed end (called after execute()/finish() returned). */
  #finishResponse(): void {
    if (!this.#requestDone) {
      // The server answered before it had the whole request: the rest of the body would be
      // read as the next request. The response stands; the connection goes.
      const h = this.#settle();
      this.#destroy('server answered before the request body was sent');
      h?.onResponseEnd();
      return;
    }
    const clean = this.#keepAlive && !this.#extra;
    const h = this.#settle();
    if (this.#extra) this.#destroy('server sent bytes after the response');
    this.#reusable = clean;
    h?.onResponseEnd();
  }

  /** Ends the running exchange: bumps the token, drops the handler; returns it for one last callback. */
  #settle(): Http1Handler | null {
    const h = this.#handler;
    this.#handler = null;
    this.#gen++;
    this.#body = null;
    this.#pendingHead = null;
    this.#waitingDrain = false;
    this.#reusable = false;
    if (this.#paused) {
      this.#paused = false;
      // Idle sockets flow, so the idle rule sees any byte.
      if (!this.#socket.destroyed) this.#socket.resume();
    }
    return h;
  }

  #fail(code: ErrorCode, message: string, cause?: unknown): void {
    const h = this.#settle();
    this.#destroy(message);
    h?.onError(new LonghaulError(code, message, cause === undefined ? undefined : { cause }));
  }

  #destroy(_reason: string): void {
    if (!this.#socket.destroyed) this.#socket.destroy();
  }
}

function bad(message: string): LonghaulError {
  return new LonghaulError('LH_CLIENT_BAD_REQUEST', message);
}
