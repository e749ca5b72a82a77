/**
 * A real TLS HTTP/1.1 origin server ("a server of a farm") for the demo, benchmarks and tests.
 * It counts what tests assert on (connections, full vs resumed handshakes, who closed each
 * connection, requests per connection) and can misbehave on purpose (Connection: close every
 * Nth response, closing idle connections, Keep-Alive hints).
 *
 * Every response carries `x-server: <name>`, `x-conn-id: <id>` and `x-conn-request: <n>`, the
 * 1-based index of the request on its connection. Routes: farm-routes.ts; misbehaviours:
 * farm-behavior.ts; connection and handshake counting: farm-connections.ts; what is recorded:
 * farm-stats.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { applyResponseBehavior, hasCloseToken, type FarmBehavior } from './farm-behavior.js';
import { FarmConnections } from './farm-connections.js';
import { handle } from './farm-routes.js';
import type { FarmStats, RequestRecord } from './farm-stats.js';

export type { FarmBehavior } from './farm-behavior.js';
export type { ClosedBy, ConnectionRecord, FarmStats, RequestRecord } from './farm-stats.js';

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

export async function startFarmServer(opts: FarmServerOptions): Promise<FarmServer> {
  const name = opts.name;
  const host = opts.host ?? '127.0.0.1';
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 300_000;
  const behavior: FarmBehavior = { ...opts.behavior };
  const requests: RequestRecord[] = [];

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

  const conns = new FarmConnections(server, opts.ca !== undefined, () => behavior.idleCloseMs ?? keepAliveTimeoutMs);
  const stats = conns.stats;

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
    conns.disarmIdle(conn);
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
    if (applyResponseBehavior(res, req.headers.connection, connRequest, behavior)) conn.closing = true;
    res.on('close', () => {
      conn.inFlight--;
      conns.armIdle(conn);
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
      conns.resetStats();
      requests.length = 0;
    },
    close() {
      return conns.close();
    },
  };
}
