/**
 * `engine: uws` — the client listener on uWebSockets.js (@based/uws 6.0.1 = uWS.js 20.51.0).
 * Opt-in since issue 15 (the default is node): the gaps below live in uWS's C++ parser; README
 * "Front engines" lists them and `check` warns (config/cross-checks.ts UWS_ENGINE_WARNING).
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
 * How each request is attributed to its client connection (uWS gives no socket id): see
 * uws-conn-tracker.ts.
 *
 * ## Response
 * See uws-response-writer.ts (head/body writing, cork/tryEnd/backpressure, completion deferral).
 *
 * ## Known gaps (uWS itself; not closable from JS)
 * LF-only chunk framing and a missing CRLF after chunk data are accepted; an empty header name
 * after Host hides the rest of the head (undetectable; before Host it shows as missing Host);
 * request header value bytes above 0x7F are stripped by uWS (MEASURED: `caf\xe9` and `caf\xc3\xa9`
 * both arrive as `caf`); chunk extensions get 400, trailers are refused, more than ~50 headers
 * get 431; a bare CR inside a header value gets no answer (uWS waits, its timer closes); HTTP/1.0,
 * absolute-form, `*` and CONNECT get uWS's own 505; pipelining behind an asynchronous answer
 * makes uWS close the connection (it refuses async pipelining); timeouts are uWS's fixed ~10 s
 * idle / 16 KiB/s upload rules (cfg.timeouts do not apply to this engine, except http-request
 * for a chunked request waiting for its first chunk).
 */
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from '@based/uws';
import { tlsPolicyOf } from '../core/client-access-policy.js';
import type { ListenerConfig } from '../config/config-types.js';
import type { HeaderList, RequestHandler } from '../core/types.js';
import type { FrontLog, ListenerCounters } from './front-common.js';
import type { FrontListener } from './front-listener.js';
import type { ListenerCerts } from '../tls/listener-certs.js';
import { UwsServerNames } from './uws-server-names.js';
import { bodyFraming, validateRequest, type Rejection } from './request-validation.js';
import { UwsConnTracker } from './uws-conn-tracker.js';
import { UwsExchange, type HeadCopy } from './uws-exchange.js';
import { addressText, loadUws, noop, pauseRes, restoreUwsMethod } from './uws-module.js';
import { atTick, enterParseTurn, parseTurn } from './uws-parse-turn.js';

export { UWS_MAX_HEADERS_SIZE, restoreUwsMethod } from './uws-module.js';

/** uWS's cork buffer is 16 KiB; a rejection body longer than this forces flush + synchronous close. */
const REJECT_PAD = 16 * 1024 + 16;
/** In-flight exchanges get this long to finish when the listener closes; then everything is cut. */
const CLOSE_GRACE_MS = 10_000;

class UwsListener extends UwsConnTracker implements FrontListener {
  override readonly name: string;
  port = 0;
  override closing = false;
  override readonly inflight = new Set<UwsExchange>();
  private app: TemplatedApp | null = null;
  private listenSocket: us_listen_socket | null = null;
  private requests = 0;
  protected override rejectedCount = 0;
  private closePromise: Promise<void> | null = null;
  private serverNames: UwsServerNames | null = null;

  constructor(
    override readonly cfg: ListenerConfig,
    override readonly handler: RequestHandler,
    override readonly log: FrontLog,
    private certs: ListenerCerts,
  ) {
    super();
    this.name = cfg.name;
  }

  async listen(reusePort = false): Promise<void> {
    const uws = loadUws();
    let app: TemplatedApp;
    try {
      const d = this.certs.defaultCert;
      // TLS policy (issue 13 item 4): uWS takes a cipher list (ssl_ciphers); its floor is TLS 1.2
      // (MEASURED, test/integration/listener-tls-policy.test.ts); what it cannot honour (TLS 1.3
      // only, client certificates, allow, max-conn) is refused by `check` (cross-checks.ts).
      app = uws.SSLApp({ cert_file_name: d.certFile, key_file_name: d.keyFile, ssl_ciphers: tlsPolicyOf(this.cfg.tls).ciphers });
    } catch (err) {
      throw new Error(`listener ${this.name}: uWS could not load TLS cert ${this.certs.defaultCert.certFile} / key ${this.certs.defaultCert.keyFile}: ${(err as Error).message}`);
    }
    this.app = app;
    app.filter((res, count) => this.onFilter(res, Number(count)));
    const route = (a: TemplatedApp): void => void a.any('/*', (res, req) => this.onRequest(res, req));
    route(app);
    this.serverNames = new UwsServerNames(app, route, tlsPolicyOf(this.cfg.tls).ciphers);
    this.serverNames.apply(this.certs);
    const { host, port } = this.cfg.bind;
    this.listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      // uSockets sets SO_REUSEPORT on every listen socket unless told LIBUS_LISTEN_EXCLUSIVE_PORT
      // (1): that is why a second longhaul on the same port used to start and silently share it
      // (issue 12 item 9). Exclusive unless the operator asked for --reuse-port. The
      // (host, port, options, cb) form exists in uWS.js but not in its .d.ts.
      const listen = app.listen as unknown as (h: string, p: number, o: number, cb: (ls: us_listen_socket | false) => void) => void;
      listen.call(app, host, port, reusePort ? 0 : 1, (ls) => {
        if (ls) resolve(ls);
        else reject(new Error(`listener ${this.name}: could not listen on ${host}:${port} (address in use by another process${reusePort ? ' that did not set SO_REUSEPORT' : '? a second longhaul on a port needs --reuse-port on both'}, or not available)`));
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

  /**
   * uWS.js exposes no descriptor of its listen socket and cannot listen on one it is given
   * (@based/uws 6.0.1: listen(host, port) and listen_unix only; adoptSocket takes an accepted
   * connection, not a listener): no fd handover on this engine, only the --reuse-port one.
   */
  listenFd(): number | null {
    return null;
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
    parseTurn.lastChunked = null;
    let behindRejected = false;
    if (parseTurn.pendingSync) {
      const p = parseTurn.pendingSync;
      parseTurn.pendingSync = null;
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
      parseTurn.lastChunked = exch;
      exch.awaitTimer = setTimeout(() => {
        if (this.awaiting.has(exch)) this.drop(exch, 'no request body data arrived');
      }, Math.max(1000, this.cfg.timeouts.httpRequest));
      exch.awaitTimer.unref();
      atTick(() => this.resumeParked());
    } else {
      parseTurn.pendingSync = exch;
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
      parseTurn.pendingSync = exch;
      atTick(noop);
    }
  }

  /** A request we cannot attribute to a connection safely: close its connection, no answer. */
  override unidentified(exch: UwsExchange, why: string): void {
    if (exch.rejected) return;
    this.drop(exch, why);
  }

  override drop(exch: UwsExchange, why: string, immediate = false): void {
    this.rejectedCount++;
    this.log.warn({ client: exch.remote, method: exch.head.loweredMethod, path: exch.head.target, why }, 'request dropped, client connection closed');
    this.unpark(exch);
    exch.kill(immediate);
  }
}

export async function startUwsListener(cfg: ListenerConfig, handler: RequestHandler, log: FrontLog, certs: ListenerCerts, reusePort = false): Promise<FrontListener> {
  const l = new UwsListener(cfg, handler, log, certs);
  await l.listen(reusePort);
  return l;
}
