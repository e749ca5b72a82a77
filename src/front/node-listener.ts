/**
 * `engine: node` (the default engine, issue 15) — the client listener on node:https (llhttp,
 * strict parser, `insecureHTTPParser` stays off). Same contract as the uws engine; unlike uWS it
 * serves HTTP/1.0, pipelining, chunk extensions, trailers and keeps header bytes (latin1).
 *
 * - The parser's own refusals arrive as 'clientError' and are answered 400 (431 for an oversized
 *   head, 408 for a request timeout) with `Connection: close`, then the socket is ended.
 * - request-validation.ts runs on every request too (same table as uws). A refused request marks
 *   its socket poisoned: requests node already parsed behind it are never dispatched nor
 *   answered; node closes the socket after the 400 (it carries `Connection: close`).
 * - HTTP/1.0: answered and closed unless the client asked for keep-alive (node's own logic;
 *   `wantsClose` reports the same decision).
 * - `Expect: 100-continue`: 'checkContinue' → validated first, then `writeContinue()` before the
 *   body is read; `Expect` is not passed on. Other expectations: 417.
 * - Backpressure: response `write()`'s return value + 'drain'; the request body is pushed into
 *   the one body primitive (src/core/request-body.ts), which pauses/resumes the IncomingMessage
 *   (node stops reading the socket while it is paused).
 * - Timeouts: keepAliveTimeout = timeouts.http-keep-alive; headersTimeout = timeouts.http-request;
 *   requestTimeout = timeouts.client (whole request received), checked every second; the body
 *   also has to keep `min-upload-rate` over each http-request window (request-body.ts).
 * - clientConnId: one id per TLS socket (WeakMap), from the same counter as the uws engine.
 * - node adds its own `Date`; the proxy never passes the server's.
 * - Targets: absolute-form → origin-form (request-validation.ts toOriginForm); `*` only for
 *   OPTIONS (answered by the forwarder); CONNECT ('connect' event) → 501 + close; a major
 *   version other than 1 → 505.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls, { type TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/config-types.js';
import type { HeaderList, ProxyRequest, RequestBody, RequestHandler } from '../core/types.js';
import { ClientConnection } from '../core/client-connection.js';
import { NodeSink } from './node-response-sink.js';
import { clientAbortedError, computeWantsClose, newRequestBody, nextClientConnId, type FrontLog, type ListenerCounters } from './front-common.js';
import type { FrontListener } from './front-listener.js';
import { certForName, type ListenerCerts } from '../tls/listener-certs.js';
import { clientCertVerdict, contextOptions, serverVerifyOptions } from '../tls/listener-tls-policy.js';
import { tlsPolicyOf, type ListenerTlsPolicy } from '../core/client-access-policy.js';
import { ClientGate, withClientSubject } from './client-gate.js';
import { bodyFraming, toOriginForm, validateRequest, withoutExpect, type Rejection, type RequestHead } from './request-validation.js';

const CLOSE_GRACE_MS = 10_000;
const MAX_HEADER_SIZE = 16 * 1024;

function rawHeaderList(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/**
 * The request body of `req`, pushed into the one body primitive (src/core/request-body.ts):
 * 'data' → push, 'end' → end, a close before the body was complete → LH_CLIENT_ABORTED.
 * Back-pressure: req.pause() stops node reading the socket (node pauses the socket while its
 * IncomingMessage is paused); a discarded body keeps flowing so the request still reaches its end.
 */
function nodeBody(length: number | null, req: IncomingMessage, cfg: ListenerConfig): RequestBody {
  const body = newRequestBody(length, { pause: () => req.pause(), resume: () => req.resume() }, cfg);
  req.on('data', (chunk: Buffer) => body.push(chunk));
  req.once('end', () => body.end());
  req.on('error', () => body.fail(clientAbortedError()));
  req.once('close', () => {
    if (!req.complete) body.fail(clientAbortedError());
  });
  return body;
}

class NodeListener implements FrontListener {
  readonly name: string;
  port = 0;
  private readonly server: https.Server;
  private readonly connIds = new WeakMap<Socket, ClientConnection>();
  private readonly poisoned = new WeakSet<Socket>();
  private readonly sockets = new Set<Socket>();
  private requests = 0;
  private rejected = 0;
  /** Connections closed at the door: allow, max-conn, client certificate. */
  private refused = 0;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private certs: ListenerCerts;
  private readonly gate: ClientGate;
  private readonly tlsPolicy: ListenerTlsPolicy;
  /** Verified client certificate subject per socket (`client-subject-header`). */
  private readonly subjects = new WeakMap<Socket, string>();
  /** One SecureContext per SNI certificate, built once per (re)load, never per handshake. */
  private sniContexts = new Map<string, tls.SecureContext>();

  constructor(
    private readonly cfg: ListenerConfig,
    private readonly handler: RequestHandler,
    private readonly log: FrontLog,
    certs: ListenerCerts,
  ) {
    this.certs = certs;
    this.tlsPolicy = tlsPolicyOf(cfg.tls);
    this.gate = new ClientGate(cfg.access);
    this.sniContexts = sniContexts(certs, this.tlsPolicy);
    this.name = cfg.name;
    const t = cfg.timeouts;
    const requestTimeout = Math.max(0, t.client);
    const headersTimeout = requestTimeout > 0 ? Math.min(t.httpRequest, requestTimeout) : t.httpRequest;
    this.server = https.createServer({
      cert: certs.defaultCert.certPem,
      key: certs.defaultCert.keyPem,
      ...contextOptions(this.tlsPolicy, certs.clientCa),
      ...serverVerifyOptions(this.tlsPolicy, certs.clientCa),
      // No context (undefined): node uses the server's default one (setSecureContext on reload).
      SNICallback: (servername, cb) => {
        const c = certForName(this.certs, servername.toLowerCase());
        cb(null, c ? this.sniContexts.get(c.fingerprint256) : undefined);
      },
      maxHeaderSize: MAX_HEADER_SIZE,
      insecureHTTPParser: false,
      requireHostHeader: false, // our validation answers it (and poisons the socket); node's own 400 still dispatches what is pipelined behind
      keepAliveTimeout: t.httpKeepAlive,
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: 1000,
    });
    // node closes connections above maxConnections at accept ('drop' event, node >= 18.6).
    this.server.maxConnections = this.gate.maxConn;
    this.server.on('drop', (d?: { remoteAddress?: string }) => {
      this.refused++;
      this.log.debug({ client: d?.remoteAddress, maxConn: this.gate.maxConn }, 'client connection refused: listener max-conn reached');
    });
    // Before TLS (tls.Server's own 'connection' listener has wrapped the socket already; closing
    // the raw socket closes the wrap too, with no handshake and nothing sent).
    this.server.on('connection', (raw: Socket) => {
      if (this.gate.admits(raw.remoteAddress)) return;
      this.refused++;
      this.log.debug({ client: raw.remoteAddress }, 'client connection refused: address not in allow');
      raw.destroy();
    });
    // Prepended: it must run before node:http's own 'secureConnection' listener, which starts
    // parsing at once — MEASURED: a socket destroyed after it still had its first request
    // dispatched (an untrusted client certificate under verify: optional reached the farm).
    this.server.prependListener('secureConnection', (socket: TLSSocket) => {
      const verdict = clientCertVerdict(socket, this.tlsPolicy, this.certs.clientCa);
      if (!verdict.ok) {
        this.refused++;
        this.log.info({ client: socket.remoteAddress, reason: verdict.reason }, 'client connection refused: client certificate');
        socket.destroy();
        return;
      }
      if (verdict.subject !== null) this.subjects.set(socket, verdict.subject);
      const client = new ClientConnection(nextClientConnId());
      this.connIds.set(socket, client);
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        client.markClosed((err) => this.log.error({ err }, 'client close callback threw'));
      });
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, false));
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, true));
    this.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      this.requests++;
      this.reject(req, res, { status: 417, reason: 'unsupported expectation' });
    });
    this.server.on('connect', (req: IncomingMessage, socket: Socket) => this.onConnect(req, socket));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.onClientError(err, socket));
    this.server.on('tlsClientError', (err: Error) => this.log.debug({ err: err.message }, 'client TLS handshake failed'));
  }

  async listen(reusePort = false, inheritedFd?: number): Promise<void> {
    const { host, port } = this.cfg.bind;
    if (inheritedFd !== undefined) return this.listenOnFd(inheritedFd);
    // net.Server's reusePort (SO_REUSEPORT) exists from Node 22.12 / 23.1; older ones ignore the
    // option, so asking for it there must refuse rather than fail later with EADDRINUSE.
    if (reusePort && !nodeHasReusePort()) {
      throw new Error(`listener ${this.name}: --reuse-port needs Node 22.12 or later for engine node (this is ${process.version}); use engine uws for this listener or upgrade Node`);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { code?: string }): void => reject(new Error(`listener ${this.name}: could not listen on ${host}:${port}: ${err.message}${err.code === 'EADDRINUSE' && !reusePort ? ' (another process has it; a second longhaul on a port needs --reuse-port on both)' : ''}`));
      this.server.once('error', onError);
      this.server.listen({ port, host, ...(reusePort ? { reusePort: true } : {}) }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
  }

  /**
   * Listen on a socket inherited from the previous process (issue 12 item 9): both processes
   * hold the same kernel socket, hence ONE accept queue, so nothing is refused or reset while
   * one stops accepting and the other starts. node opens the descriptor as a TCP server handle
   * (listen() again on a listening socket only sets the backlog). The address must be the
   * configured one: a socket bound elsewhere is refused rather than served under another name.
   */
  private async listenOnFd(fd: number): Promise<void> {
    const { host, port } = this.cfg.bind;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`listener ${this.name}: could not listen on the inherited socket (fd ${fd}): ${err.message}`));
      this.server.once('error', onError);
      this.server.listen({ fd }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    if (port !== 0 && this.port !== port) {
      this.server.close();
      throw new Error(`listener ${this.name}: the inherited socket (fd ${fd}) is bound to port ${this.port}, the configuration says ${host}:${port}`);
    }
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
  }

  listenFd(): number | null {
    // node's TCP server handle exposes its descriptor on POSIX (TCPWrap#fd); -1 once closed.
    const fd = (this.server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  stats(): ListenerCounters {
    return { connections: this.sockets.size, requests: this.requests, rejected: this.rejected, refused: this.refused };
  }

  certificates(): ListenerCerts {
    return this.certs;
  }

  reloadCertificates(certs: ListenerCerts): void {
    const contexts = sniContexts(certs, this.tlsPolicy);
    this.server.setSecureContext({ cert: certs.defaultCert.certPem, key: certs.defaultCert.keyPem, ...contextOptions(this.tlsPolicy, certs.clientCa) });
    this.certs = certs;
    this.sniContexts = contexts;
  }

  close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.closePromise ??= new Promise<void>((resolve) => {
      this.closing = true;
      // Not unref'd: stalled sockets do not keep the event loop alive, this timer must.
      const timer = setTimeout(() => {
        this.log.warn({ open: this.sockets.size }, 'closing listener: cutting connections still open after the grace period');
        this.server.closeAllConnections();
        for (const s of this.sockets) s.destroy();
      }, graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closePromise;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.requests++;
    const socket = req.socket;
    if (this.poisoned.has(socket)) {
      // Parsed behind a refused request on the same connection: never served. node closes the
      // socket after the 400 (Connection: close); this response stays unanswered until then.
      req.resume();
      return;
    }
    const receivedAt = performance.now();
    if (req.httpVersionMajor !== 1) {
      // llhttp parses any single-digit major version; only HTTP/1.x is spoken here (RFC 9110
      // §15.6.6). A higher 1.x minor version is served as 1.1 (RFC 9110 §2.5).
      this.reject(req, res, { status: 505, reason: `HTTP/${req.httpVersion} is not supported` });
      return;
    }
    const httpVersion: '1.0' | '1.1' = req.httpVersion === '1.0' ? '1.0' : '1.1';
    const head = toOriginForm({ method: req.method ?? '', target: req.url ?? '', httpVersion, headers: rawHeaderList(req.rawHeaders) });
    const rejection = 'status' in head ? head : validateRequest(head);
    if (rejection) {
      this.reject(req, res, rejection);
      return;
    }
    const { method, target, headers } = head as RequestHead;
    if (expectContinue) res.writeContinue();
    const framing = bodyFraming(headers);
    const wantsClose = computeWantsClose(httpVersion, headers);
    let client = this.connIds.get(socket);
    if (!client) {
      client = new ClientConnection(nextClientConnId());
      this.connIds.set(socket, client);
    }
    client.requests++;
    const body = framing.hasBody ? nodeBody(framing.length, req, this.cfg) : null;
    const proxyReq: ProxyRequest = {
      method,
      target,
      httpVersion,
      headers: withClientSubject(withoutExpect(headers), this.tlsPolicy.subjectHeader, this.subjects.get(socket) ?? null),
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort,
      tlsVersion: (socket as TLSSocket).getProtocol?.() ?? null,
      clientConnId: client.id,
      client,
      listener: this.name,
      farm: this.cfg.farm,
      wantsClose,
      body,
      receivedAt,
      forwardedFor: this.cfg.forwardedFor,
    };
    // A body that failed (slow upload) leaves the rest of it on the wire: the connection must close.
    const sink = new NodeSink(res, () => wantsClose || this.closing || !!body?.failed, this.cfg.timeouts.client, this.log);
    try {
      this.handler(proxyReq, sink);
    } catch (err) {
      this.log.error({ err, method, path: target }, 'request handler threw');
      if (sink.aborted) return;
      if (!sink.started) {
        const body = Buffer.from('500 Internal Server Error\n');
        sink.start(500, 'Internal Server Error', [['content-type', 'text/plain; charset=utf-8']], body.length, false);
        sink.write(body);
        sink.end();
      } else {
        sink.destroy();
      }
    }
  }

  private reject(req: IncomingMessage, res: ServerResponse, rej: Rejection): void {
    this.rejected++;
    this.poisoned.add(req.socket);
    this.log.debug({ client: req.socket.remoteAddress, reason: rej.reason, status: rej.status }, 'rejected request');
    const body = `${rej.status} ${STATUS_CODES[rej.status] ?? ''}: ${rej.reason}\n`;
    res.writeHead(rej.status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      Connection: 'close',
    });
    res.end(body);
  }

  /**
   * CONNECT (node emits 'connect', never 'request', for it): a gateway to fixed farms tunnels
   * nothing. Answered 501 by the front itself (never reaches a server, never counts against one)
   * and closed: bytes after the head would be tunnel data. node has taken its own listeners off
   * the socket by now, so the error listener is ours to add.
   */
  private onConnect(req: IncomingMessage, socket: Socket): void {
    this.requests++;
    this.rejected++;
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'client socket error after CONNECT'));
    this.log.debug({ client: socket.remoteAddress, target: req.url }, 'rejected CONNECT');
    const body = '501 Not Implemented: CONNECT is not supported\n';
    socket.end(`HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nX-Longhaul-Error: LH_UNSUPPORTED_METHOD\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const t = setTimeout(() => socket.destroy(), 2000);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }

  private onClientError(err: Error & { code?: string }, socket: Socket): void {
    this.log.debug({ err: err.message, code: err.code, client: socket.remoteAddress }, 'client error');
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      // The peer is gone, or part of a response is already on the wire: a 400 now would corrupt
      // it. Just cut.
      socket.destroy();
      return;
    }
    // (A request whose head was fine but whose body framing is broken is in flight with no
    // response yet: like node's default handler, answer 400 and close; its body stream fails.)
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.rejected++;
    const body = `${status} ${STATUS_CODES[status]}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const t = setTimeout(() => socket.destroy(), 2000);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }
}

/** Keyed by fingerprint: entries with the same certificate share one context. */
function sniContexts(certs: ListenerCerts, policy: ListenerTlsPolicy): Map<string, tls.SecureContext> {
  const m = new Map<string, tls.SecureContext>();
  const opts = contextOptions(policy, certs.clientCa);
  for (const { cert } of certs.sni) {
    if (!m.has(cert.fingerprint256)) m.set(cert.fingerprint256, tls.createSecureContext({ cert: cert.certPem, key: cert.keyPem, ...opts }));
  }
  return m;
}

function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export async function startNodeListener(cfg: ListenerConfig, handler: RequestHandler, log: FrontLog, certs: ListenerCerts, reusePort = false, inheritedFd?: number): Promise<FrontListener> {
  const l = new NodeListener(cfg, handler, log, certs);
  await l.listen(reusePort, inheritedFd);
  return l;
}
