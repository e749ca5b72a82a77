/**
 * A real TLS HTTP/1.1 origin server ("a server of a farm") for the demo, benchmarks and tests.
 * It counts what tests assert on (connections, full vs resumed handshakes, who closed each
 * connection, requests per connection) and can misbehave on purpose (Connection: close every
 * Nth response, closing idle connections, Keep-Alive hints).
 *
 * Routes (every response carries `x-server: <name>`, `x-conn-id: <id>` and
 * `x-conn-request: <n>`, the 1-based index of the request on its connection):
 *   GET|HEAD /hello              → `hello from <name>`
 *   GET|HEAD /bytes/<n>[?chunked=1] → n bytes, byte i = i % 251; Content-Length, or chunked
 *   POST|PUT /echo               → the body back, with x-body-sha256 / x-body-length headers
 *                                  (buffered); `?stream=1` streams it back chunked and sends
 *                                  those two as trailers
 *   GET|HEAD /slow/<ms>          → answers `slow <ms>` no earlier than ms after the request head
 *   GET|HEAD /health             → 200 `ok` (or behavior.healthStatus)
 *   ANY /status/<code>           → that status (200..599)
 * Every request body is read completely (and hashed into the request log) before a response
 * starts, except for `/echo?stream=1`.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';

export interface FarmBehavior {
  /**
   * The Nth, 2Nth, … response on each connection carries `Connection: close`, and the server
   * closes that connection after it (like nginx `keepalive_requests N`).
   */
  closeEvery?: number;
  /** Server closes (close_notify + FIN) a connection idle this long; overrides keepAliveTimeoutMs. */
  idleCloseMs?: number;
  /** Adds `Keep-Alive: timeout=N` to keep-alive responses. No hint is sent otherwise. */
  keepAliveHintSeconds?: number;
  /** Status of `/health` (default 200): 404 is a soft stop for `disable-on-404` (background 002). */
  healthStatus?: number;
}

export interface FarmServerOptions {
  cert: string;
  key: string;
  /** CA for client certificates: when set, the server requests a client certificate. */
  ca?: string;
  /** With `ca`: reject handshakes without a valid client certificate; default true. */
  requireClientCert?: boolean;
  host?: string;
  port?: number;
  name: string;
  /** Idle time after which the server closes a keep-alive connection; default 300000. */
  keepAliveTimeoutMs?: number;
  behavior?: FarmBehavior;
  /** Extra TLS server options (e.g. maxVersion, ticketKeys); cert/key/ca above win. */
  tlsOptions?: TlsOptions;
}

export type ClosedBy = 'server' | 'client';

export interface ConnectionRecord {
  id: number;
  /** SNI the client sent; '' when none. */
  sni: string;
  resumed: boolean;
  /** Subject CN of the client certificate, or null. */
  clientCert: string | null;
  /** Requests received on this connection (since the last resetStats). */
  requests: number;
  /** Who sent FIN (or RST) first; null while open. */
  closedBy: ClosedBy | null;
}

export interface FarmStats {
  /** TCP connections accepted. */
  connections: number;
  /** Completed TLS handshakes = fullHandshakes + resumedHandshakes. */
  handshakes: number;
  fullHandshakes: number;
  resumedHandshakes: number;
  handshakeErrors: number;
  /** Requests received (request heads parsed), including the ones dropped below. */
  requests: number;
  /** Requests that arrived on a connection the server had already decided to close; never answered. */
  requestsDroppedOnClosingConnection: number;
  /** SNI of each handshaken connection in handshake order; '' when none. */
  sniPerConnection: string[];
  connectionClosedByServer: number;
  connectionClosedByClient: number;
  requestsSeenWithConnectionClose: number;
  /** Records of connections handshaken since the last resetStats, plus those open at that time. */
  perConnection: ConnectionRecord[];
  openConnections: number;
}

export interface RequestRecord {
  connId: number;
  sni: string;
  /** 1-based index of this request on its connection. */
  connRequest: number;
  method: string;
  url: string;
  httpVersion: string;
  /** Header names and values as received, alternating. */
  rawHeaders: string[];
  /** Body bytes received so far. */
  bodyLength: number;
  /** sha256 hex of the body; null until the body has been received completely (stays null if it never is). */
  bodySha256: string | null;
  /** Date.now() when the request head was parsed. */
  at: number;
}

export interface FarmServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Live counters; one object for the server's lifetime (resetStats mutates it in place). */
  readonly stats: FarmStats;
  /** Request log in arrival order; one array for the server's lifetime. */
  readonly requests: RequestRecord[];
  /** Live behaviour: changes apply from the next response / next idle period. */
  readonly behavior: FarmBehavior;
  /** Zeroes counters and clears logs; records of still-open connections are kept with requests = 0. */
  resetStats(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Conn {
  record: ConnectionRecord;
  socket: TLSSocket;
  idleTimer: NodeJS.Timeout | null;
  /** Requests whose response has not finished; the connection is idle only when 0. */
  inFlight: number;
  /** The server has decided to close (idle close or Connection: close sent). */
  closing: boolean;
  peerEndedFirst: boolean;
  resetByPeer: boolean;
}

/** Pattern chunk length: a multiple of 251 so that every chunk starts at byte value 0. */
const PATTERN = Buffer.from(Array.from({ length: 251 * 256 }, (_, i) => i % 251));
/** After close_notify + FIN, the socket is destroyed if the peer has not closed within this grace. */
const CLOSE_GRACE_MS = 2000;

function zeroStats(): FarmStats {
  return {
    connections: 0,
    handshakes: 0,
    fullHandshakes: 0,
    resumedHandshakes: 0,
    handshakeErrors: 0,
    requests: 0,
    requestsDroppedOnClosingConnection: 0,
    sniPerConnection: [],
    connectionClosedByServer: 0,
    connectionClosedByClient: 0,
    requestsSeenWithConnectionClose: 0,
    perConnection: [],
    openConnections: 0,
  };
}

function hasCloseToken(value: string | undefined): boolean {
  return value !== undefined && value.split(',').some((t) => t.trim().toLowerCase() === 'close');
}

export async function startFarmServer(opts: FarmServerOptions): Promise<FarmServer> {
  const name = opts.name;
  const host = opts.host ?? '127.0.0.1';
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 300_000;
  const behavior: FarmBehavior = { ...opts.behavior };
  const stats = zeroStats();
  const requests: RequestRecord[] = [];
  const conns = new Map<TLSSocket, Conn>();
  const rawSockets = new Set<Socket>();
  let nextConnId = 1;
  let shuttingDown = false;

  const server: Server = createServer({
    ...opts.tlsOptions,
    cert: opts.cert,
    key: opts.key,
    ...(opts.ca !== undefined
      ? { ca: opts.ca, requestCert: true, rejectUnauthorized: opts.requireClientCert ?? true }
      : {}),
    noDelay: true,
  });
  // Idle connections are closed by our own timer (counted, close_notify + FIN); node's
  // keep-alive timer would also add its own `Keep-Alive` header.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;

  function disarmIdle(conn: Conn): void {
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
  }

  function armIdle(conn: Conn): void {
    disarmIdle(conn);
    if (conn.closing || conn.inFlight > 0) return;
    conn.idleTimer = setTimeout(() => serverClose(conn), behavior.idleCloseMs ?? keepAliveTimeoutMs);
    conn.idleTimer.unref();
  }

  /** close_notify + FIN now; destroy if the peer has not closed after the grace period. */
  function serverClose(conn: Conn): void {
    conn.closing = true;
    disarmIdle(conn);
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  server.on('connection', (raw: Socket) => {
    stats.connections++;
    rawSockets.add(raw);
    raw.on('close', () => rawSockets.delete(raw));
  });
  server.on('tlsClientError', () => {
    stats.handshakeErrors++;
  });

  // Prepended so that our socket listeners run before node:http's ('end' must see writableEnded
  // before http reacts to the peer's FIN by ending its side).
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const resumed = socket.isSessionReused();
    const sni = typeof socket.servername === 'string' ? socket.servername : '';
    const peer = opts.ca !== undefined ? socket.getPeerCertificate() : null;
    const cn = peer?.subject?.CN;
    const record: ConnectionRecord = {
      id: nextConnId++,
      sni,
      resumed,
      clientCert: typeof cn === 'string' ? cn : null,
      requests: 0,
      closedBy: null,
    };
    const conn: Conn = { record, socket, idleTimer: null, inFlight: 0, closing: false, peerEndedFirst: false, resetByPeer: false };
    conns.set(socket, conn);
    stats.handshakes++;
    if (resumed) stats.resumedHandshakes++;
    else stats.fullHandshakes++;
    stats.sniPerConnection.push(sni);
    stats.perConnection.push(record);
    stats.openConnections++;

    socket.on('end', () => {
      if (!socket.writableEnded && !conn.closing) conn.peerEndedFirst = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!conn.closing && !socket.writableEnded && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) conn.resetByPeer = true;
    });
    socket.on('close', () => {
      disarmIdle(conn);
      conns.delete(socket);
      stats.openConnections--;
      if (shuttingDown) return;
      record.closedBy = conn.peerEndedFirst || conn.resetByPeer ? 'client' : 'server';
      if (record.closedBy === 'client') stats.connectionClosedByClient++;
      else stats.connectionClosedByServer++;
    });
    armIdle(conn);
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = conns.get(req.socket as TLSSocket);
    stats.requests++;
    if (conn === undefined || conn.closing) {
      // The server has decided to close this connection: the request is never answered (the
      // socket closes after the response already under way, or after the idle close).
      stats.requestsDroppedOnClosingConnection++;
      req.resume();
      return;
    }
    disarmIdle(conn);
    conn.inFlight++;
    conn.record.requests++;
    const connRequest = conn.record.requests;
    if (hasCloseToken(req.headers.connection)) stats.requestsSeenWithConnectionClose++;
    const log: RequestRecord = {
      connId: conn.record.id,
      sni: conn.record.sni,
      connRequest,
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      rawHeaders: [...req.rawHeaders],
      bodyLength: 0,
      bodySha256: null,
      at: Date.now(),
    };
    requests.push(log);

    res.setHeader('x-server', name);
    res.setHeader('x-conn-id', String(conn.record.id));
    res.setHeader('x-conn-request', String(connRequest));
    const closeEvery = behavior.closeEvery;
    if (closeEvery !== undefined && closeEvery > 0 && connRequest % closeEvery === 0) {
      res.setHeader('Connection', 'close');
      conn.closing = true;
    } else if (behavior.keepAliveHintSeconds !== undefined && !hasCloseToken(req.headers.connection)) {
      res.setHeader('Keep-Alive', `timeout=${behavior.keepAliveHintSeconds}`);
    }
    res.on('close', () => {
      conn.inFlight--;
      armIdle(conn);
    });

    handle(req, res, log, name, behavior).catch(() => {
      res.destroy();
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('farm server has no TCP address');

  return {
    name,
    host,
    port: address.port,
    stats,
    requests,
    behavior,
    resetStats() {
      const open = [...conns.values()].map((c) => c.record);
      for (const r of open) r.requests = 0;
      Object.assign(stats, zeroStats(), { perConnection: open, openConnections: open.length });
      requests.length = 0;
    },
    close() {
      shuttingDown = true;
      const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      for (const conn of conns.values()) disarmIdle(conn);
      for (const s of conns.keys()) s.destroy();
      for (const s of rawSockets) s.destroy();
      return closed;
    },
  };
}

interface BodyResult {
  sha256: string;
  length: number;
}

/**
 * Reads the whole request body into the log record; resolves null if the request is aborted
 * before its end. `onChunk` sees every chunk in order.
 */
function readBody(req: IncomingMessage, log: RequestRecord, onChunk?: (chunk: Buffer) => void): Promise<BodyResult | null> {
  return new Promise((resolveBody) => {
    const hash = createHash('sha256');
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      log.bodyLength += chunk.length;
      onChunk?.(chunk);
    });
    req.on('end', () => {
      ended = true;
      log.bodySha256 = hash.digest('hex');
      resolveBody({ sha256: log.bodySha256, length: log.bodyLength });
    });
    req.on('close', () => {
      if (!ended) resolveBody(null);
    });
    req.on('error', () => {
      /* 'close' follows */
    });
  });
}

function text(res: ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(buf.length) });
  res.end(buf);
}

function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolveDrain) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolveDrain(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolveDrain(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function sendBytes(res: ServerResponse, n: number, chunked: boolean): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (!chunked) headers['content-length'] = String(n);
  res.writeHead(200, headers);
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  let remaining = n;
  while (remaining > 0) {
    if (res.destroyed) return;
    const chunk = PATTERN.subarray(0, Math.min(PATTERN.length, remaining));
    remaining -= chunk.length;
    if (!res.write(chunk) && !(await drained(res))) return;
  }
  res.end();
}

async function echo(req: IncomingMessage, res: ServerResponse, log: RequestRecord, stream: boolean): Promise<void> {
  if (!stream) {
    const chunks: Buffer[] = [];
    const body = await readBody(req, log, (c) => chunks.push(c));
    if (body === null) return;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-body-sha256': body.sha256,
      'x-body-length': String(body.length),
    });
    res.end(Buffer.concat(chunks));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-body-sha256, x-body-length' });
  res.flushHeaders();
  let paused = false;
  const body = await readBody(req, log, (c) => {
    if (!res.write(c) && !paused) {
      paused = true;
      req.pause();
      res.once('drain', () => {
        paused = false;
        req.resume();
      });
    }
  });
  if (body === null) return;
  res.addTrailers({ 'x-body-sha256': body.sha256, 'x-body-length': String(body.length) });
  res.end();
}

async function handle(req: IncomingMessage, res: ServerResponse, log: RequestRecord, name: string, behavior: FarmBehavior): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://farm.invalid');
  const path = url.pathname;
  const method = req.method ?? '';
  const readOnly = method === 'GET' || method === 'HEAD';

  if (path === '/echo') {
    if (method !== 'POST' && method !== 'PUT') {
      if ((await readBody(req, log)) !== null) text(res, 405, 'method not allowed\n');
      return;
    }
    await echo(req, res, log, url.searchParams.get('stream') === '1');
    return;
  }

  const headAt = Date.now();
  if ((await readBody(req, log)) === null) return;

  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  const slow = /^\/slow\/(\d+)$/.exec(path);
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status !== null) {
    const code = Number(status[1]);
    if (code < 200 || code > 599) {
      text(res, 400, 'status must be 200..599\n');
    } else if (code === 204 || code === 304) {
      res.writeHead(code);
      res.end();
    } else {
      text(res, code, `status ${code}\n`);
    }
    return;
  }
  if (!readOnly && (bytes !== null || slow !== null || path === '/hello' || path === '/health')) {
    text(res, 405, 'method not allowed\n');
    return;
  }
  if (path === '/hello') {
    text(res, 200, `hello from ${name}`);
  } else if (path === '/health') {
    const code = behavior.healthStatus ?? 200;
    text(res, code, code === 200 ? 'ok' : `health ${code}\n`);
  } else if (bytes !== null) {
    await sendBytes(res, Number(bytes[1]), url.searchParams.get('chunked') === '1');
  } else if (slow !== null) {
    const ms = Number(slow[1]);
    const wait = headAt + ms - Date.now();
    if (wait > 0) {
      const completed = await new Promise<boolean>((resolveWait) => {
        const timer = setTimeout(() => resolveWait(true), wait);
        res.once('close', () => {
          clearTimeout(timer);
          resolveWait(false);
        });
      });
      if (!completed) return;
    }
    text(res, 200, `slow ${ms}`);
  } else {
    text(res, 404, 'not found\n');
  }
}
