import type { BackendServer } from '../balancer/backend-server.js';
import type { Farm } from '../balancer/farm.js';
import { checkHost, upstreamHost } from '../balancer/host-header.js';
import { errorCode, isClientFault } from '../core/errors.js';
import { BODY_HIGH_WATER } from '../core/request-body.js';
import type { Logger } from '../core/logger.js';
import type { ProxyRequest, ResponseSink } from '../core/types.js';
import type { Lease } from '../pool/server-pool.js';
import { sendErrorResponse } from './error-response.js';
import { ExchangeError, runExchange, type ExchangeResult } from './exchange.js';
import { upstreamRequestHeaders } from './hop-headers.js';
import { isIdempotent } from './idempotency.js';
import { PrivateConnections } from './private-connections.js';
import { classifyFailure, parseRetryOn } from './retry-policy.js';
import { reuseConstraints } from './reuse-policy.js';
import { ExchangeTimings, recordAccess, tagRequestId, type AccessJourney } from './access-line.js';

/** What one request's journey looked like: the access-log line and the stats are made from it. */
interface Journey extends AccessJourney {
  /** Narrowed: the forwarder keeps the server itself (stats), the access line only its name. */
  server: BackendServer | null;
}

/**
 * Sends each client request to a server of its farm and streams the answer back, retrying per
 * the design's retry table (which failures retry: retry-policy.ts, governed by `retry-on`):
 *
 *   connect/TLS failure .................................. retry (another server if redispatch)
 *   failure before any request byte was written .......... retry
 *   written, no response byte, idempotent ................ retry on a fresh connection
 *   written, no response byte, non-idempotent ............ 502 LH_NOT_REPLAYED, never replayed
 *   retry-on status, idempotent, nothing forwarded ....... retry; the last one is forwarded as is
 *   response started ..................................... never retry (client connection closed)
 *   body larger than replay-buffer already streamed ...... never retry
 *
 * A failure of a *reused* connection before any response byte is the idle-close race, not a
 * server fault: it does not use up `retries` (bounded separately so a flapping server cannot
 * loop us forever).
 */
export class Forwarder {
  readonly #privates = new PrivateConnections();
  /** Latency histograms for /metrics, observed with the access line (access-line.ts). */
  readonly timings = new ExchangeTimings();
  /** Per-attempt debug lines cost an object per request: built only when the level shows them. */
  readonly #debug: boolean;

  constructor(
    private readonly farms: ReadonlyMap<string, Farm>,
    private readonly log: Logger,
    /** One access-log line per request (`log.access`; a reload may change it). */
    public accessLog: boolean,
  ) {
    this.#debug = log.isLevelEnabled('debug');
  }

  readonly handle = (req: ProxyRequest, sink: ResponseSink): void => {
    this.#forward(req, sink)
      .catch((err) => {
        this.log.error({ err }, 'forwarder bug');
        if (!sink.started && !sink.aborted) sendErrorResponse(sink, 500, 'LH_UNKNOWN');
        else if (!sink.aborted) sink.destroy();
      })
      .finally(() => {
        // Answered before the client finished its body (early answer, error, client fault): the
        // rest is read and dropped, the client is never left paused (node engine: nobody else
        // would resume it).
        if (req.body && !req.body.complete) req.body.discard();
      });
  };

  async #forward(req: ProxyRequest, sink: ResponseSink): Promise<void> {
    // Looked up per request: a reload (Gateway.reload) may have changed the farm.
    const farm = this.farms.get(req.farm);
    const j: Journey = { server: null, attempts: 0, reused: false, queueMs: 0, connectMs: 0, serverMs: 0, status: 0, bytes: 0, error: null };
    if (!farm) {
      j.status = sendErrorResponse(sink, 503, 'LH_NO_SERVER');
      return this.#logAccess(req, j);
    }
    if (req.method === 'CONNECT') {
      j.status = sendErrorResponse(sink, 501, 'LH_UNSUPPORTED_METHOD');
      return this.#logAccess(req, j);
    }
    if (req.target === '*') {
      // OPTIONS * (the front admits `*` for OPTIONS only) asks about the server in general (RFC
      // 9110 §9.3.7). The backend codec sends origin-form only, so the gateway answers for its
      // farm, locally: 200, no body — never a retry, never a server's fault (issue 15).
      sink.start(200, 'OK', [], 0, false);
      sink.end();
      j.status = 200;
      return this.#logAccess(req, j);
    }
    const cfg = farm.config;
    const retryOn = parseRetryOn(cfg.retryOn);
    const idempotent = isIdempotent(req.method, req.headers);
    const body = req.body;
    const requestBuffer = cfg.requestBuffer ?? DEFAULT_REQUEST_BUFFER;
    // The client is paused only above what request buffering waits for, or it would never arrive.
    body?.configure({ replayLimit: cfg.replayBuffer, highWater: Math.max(BODY_HIGH_WATER, requestBuffer) });
    const host = req.headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
    // `sni: host` with tls.sni-allow: a name outside the list is never sent (issue 11 item 3).
    if (!farm.tls.hostAllowed(host)) {
      j.status = sendErrorResponse(sink, 421, 'LH_MISDIRECTED');
      j.error = 'LH_MISDIRECTED';
      return this.#logAccess(req, j);
    }
    // A client that goes away while its request waits for a connection leaves the queue at once.
    const abort = new AbortController();
    sink.onAbort(() => abort.abort());
    if (body) j.bytesIn = () => body.received;
    // http-reuse / private connections (design "Pool rules"): what this request may ride.
    const reuse = reuseConstraints(cfg.httpReuse, req.client.requests <= 1);
    const alwaysPrivate = cfg.private || cfg.httpReuse === 'never';
    const tried = new Set<BackendServer>();
    let retriesLeft = cfg.retries;
    // Stale-connection retries are free, but never more than the pool could hold twice over.
    let staleLeft = 2 * Math.max(1, ...farm.servers.map((s) => s.config.pool.maxConn));
    let fresh = false;
    let server: BackendServer | null = null;
    let connFailed = false;
    // A retry-on status is honoured only while a retry is still possible; the last attempt's
    // response is forwarded as is (as HAProxy does), never turned into a 502.
    const retryStatus =
      retryOn.statuses.size > 0 && idempotent
        ? (status: number): boolean => retryOn.statuses.has(status) && retriesLeft > 0 && !sink.aborted && (!body || body.replayable)
        : undefined;

    if (body && requestBuffer > 0) {
      // Request buffering (nginx proxy_request_buffering; issue 11 item 9): no backend connection
      // is leased before `request-buffer` bytes (or the whole body) arrived, so a client that
      // trickles its body holds only its own connection. A client that fails meanwhile (abort,
      // slow upload) never reached a server: a client fault, nothing to count or retry.
      try {
        await body.whenBuffered(requestBuffer);
      } catch (err) {
        return this.#clientFault(req, sink, j, errorCode(err));
      }
    }

    for (;;) {
      if (sink.aborted) {
        j.error = 'LH_CLIENT_ABORTED';
        return this.#logAccess(req, j);
      }
      // A client with a private connection goes back to its server first. Redispatch: a retry
      // goes to another server when one is left; otherwise the same one.
      // The farm is looked up again: a reload may have replaced it since the last attempt.
      const current = this.farms.get(req.farm) ?? farm;
      const previous: BackendServer | null = server;
      const pinned = j.attempts === 0 ? this.#privates.serverFor(req.client) : null;
      if (pinned?.usable) server = pinned;
      else server = !server || cfg.redispatch ? current.pick(tried) : server.usable ? server : current.pick(tried);
      if (!server) {
        j.status = sendErrorResponse(sink, 503, 'LH_NO_SERVER');
        j.error = 'LH_NO_SERVER';
        return this.#logAccess(req, j);
      }
      if (connFailed && server === previous) {
        // HAProxy's turn-around: a server that just refused a connection (restarting?) is given
        // min(timeouts.connect, 1 s) before it is tried again.
        await sleep(Math.min(cfg.timeouts.connect, 1000));
        if (sink.aborted) continue;
      }
      j.server = server;
      j.attempts++;
      if (j.attempts > 1) server.counters.retries++;
      server.active++;
      let lease: Lease | null = null;
      let reused = false;
      let endTurn: (() => void) | null = null;
      try {
        const sni = server.sniFor(host);
        const pool = server.pool(sni);
        // Built per attempt: the Host sent follows the server's SNI (host-header, issue 13).
        const headers = upstreamRequestHeaders(req.headers, {
          remoteAddress: req.remoteAddress, keepContentLength: req.body?.length != null, forwarded: req.forwardedFor,
          // HTTP/1.1 needs a Host (RFC 9112 §3.2): an HTTP/1.0 request without one gets what a
          // health check sends (the SNI, else the server's address), as undici's codec did.
          host: upstreamHost(cfg.hostHeader, cfg.tls.sni.kind, sni, server.config.address.port) ?? (host === undefined ? checkHost(cfg.hostHeader, cfg.tls.sni.kind, sni, server.config.address.host, server.config.address.port) : undefined),
          rules: cfg.requestHeaders,
        });
        // One id per request, the same on every attempt (the access line and the server agree).
        j.requestId = tagRequestId(req, headers, j.requestId);
        const own = fresh ? null : await this.#privates.lease(req.client, pool);
        endTurn = own?.done ?? null;
        lease = own?.lease ?? (await pool.lease({ fresh: fresh || reuse.fresh, idempotent, minUses: reuse.minUses, signal: abort.signal }));
        reused = lease.reused;
        j.reused = reused;
        j.opened = lease.opened === true;
        j.queueMs += lease.queueMs;
        j.connectMs += lease.connectMs;
        server.counters.requests++;
        if (reused) server.counters.requestsOnReused++;
        // A reused connection is written to only after one event-loop turn in which bytes, FIN or
        // a reset the server already sent are read (the codec retires an idle connection on any
        // of them; the attempt then fails not-written and is retried for free). undici does the
        // same since GHSA-35p6-xmwp-9g52; it narrows the window of a stray answer (F8).
        if (reused) await new Promise<void>((r) => setImmediate(r));
        const result: ExchangeResult = await runExchange(
          lease,
          { method: req.method, path: req.target, headers, body: body ? body.reader() : null, serverTimeoutMs: cfg.timeouts.server, responseRules: cfg.responseHeaders, requestId: cfg.requestIdCheck ? j.requestId : undefined, ...(retryStatus ? { retryStatus } : {}) },
          sink,
        );
        if (this.#debug) this.log.debug({ request_id: j.requestId, path: req.target, attempt: j.attempts, server: server.name, conn: lease.conn.id, conn_uses: lease.conn.uses, status: result.status, reusable: result.reusable }, 'exchange done');
        if (result.reusable && (alwaysPrivate || result.connectionAuth || lease.conn.owner)) this.#privates.pin(req.client, server, lease);
        this.#release(lease, result.reusable, 'server asked to close', endTurn);
        endTurn = null;
        server.countResponse(result.status);
        j.status = result.status;
        j.bytes = result.bytes;
        j.serverMs = result.serverMs;
        j.error = null;
        return this.#logAccess(req, j);
      } catch (err) {
        const reusable = err instanceof ExchangeError && err.reusable;
        if (this.#debug) this.log.debug({ request_id: j.requestId, path: req.target, attempt: j.attempts, server: server.name, conn: lease?.conn.id ?? null, conn_uses: lease?.conn.uses ?? null, code: errorCode(err), phase: err instanceof ExchangeError ? err.phase : null, reusable }, 'exchange failed');
        if (lease) this.#release(lease, reusable, (err as Error).message, endTurn);
        else endTurn?.();
        endTurn = null;
        // The body's own failure (client abort, slow upload) wins over how undici reported it.
        const code = body?.failed ? errorCode(body.failed) : errorCode(err);
        j.error = code;
        const phase = err instanceof ExchangeError ? err.phase : 'not-written';
        // A client fault never counts against the server, is never retried elsewhere and is
        // logged as the client's (design "Blame the right side", issue 11 item 2).
        if (isClientFault(code) || sink.aborted) {
          if (phase === 'response-started' && !sink.aborted) sink.destroy();
          return this.#clientFault(req, sink, j, sink.aborted ? 'LH_CLIENT_ABORTED' : code);
        }
        server.countError(code, reused);
        if (phase === 'response-started') {
          // The client has part of a response: the only honest thing left is to cut it.
          sink.destroy();
          return this.#logAccess(req, j);
        }
        const bodyLost = !!body && !body.replayable;
        const retry = classifyFailure({ code, phase, idempotent, reused, bodyLost }, retryOn);
        connFailed = code === 'LH_CONNECT_FAILED' || code === 'LH_CONNECT_TIMEOUT';
        if ((retry === 'stale' && staleLeft > 0) || (retry === 'counted' && retriesLeft > 0)) server.countRetry(code, retry); // retries by cause (/metrics)
        if (retry === 'stale' && staleLeft > 0) {
          staleLeft--;
          fresh = phase === 'written';
        } else if (retry === 'counted' && retriesLeft > 0) {
          retriesLeft--;
          tried.add(server);
          fresh = false;
        } else if (phase === 'written' && (!idempotent || bodyLost)) {
          this.log.warn(
            { method: req.method, path: req.target, server: server.name, cause: code, body_replayable: !bodyLost },
            'request was written and the connection failed before any response: the server may have processed it; not replayed',
          );
          // A timeout stays a 504 (its code says what happened); anything else is LH_NOT_REPLAYED.
          j.error = code === 'LH_SERVER_TIMEOUT' ? code : 'LH_NOT_REPLAYED';
          j.status = sendErrorResponse(sink, code === 'LH_SERVER_TIMEOUT' ? 504 : 502, j.error);
          return this.#logAccess(req, j);
        } else {
          const status = code === 'LH_SERVER_TIMEOUT' ? 504 : code === 'LH_QUEUE_TIMEOUT' || code === 'LH_QUEUE_FULL' || code === 'LH_POOL_CLOSED' ? 503 : 502;
          j.status = sendErrorResponse(sink, status, code);
          return this.#logAccess(req, j);
        }
      } finally {
        server.active--;
      }
    }
  }

  /**
   * A failure the client caused: answered when the client can still read an answer (400 for a
   * request the backend codec refused, 408 for a slow upload; connection closed after it by the
   * front, the body having failed), logged as a client fault, never counted against a server.
   */
  #clientFault(req: ProxyRequest, sink: ResponseSink, j: Journey, code: string): void {
    j.error = code;
    this.log.info({ client: req.remoteAddress, method: req.method, path: req.target, code, fault: 'client' }, 'client fault');
    if (!sink.started && !sink.aborted) {
      if (code === 'LH_CLIENT_BAD_REQUEST') j.status = sendErrorResponse(sink, 400, code);
      else if (code === 'LH_CLIENT_SLOW_UPLOAD') j.status = sendErrorResponse(sink, 408, code);
    }
    this.#logAccess(req, j);
  }

  /** `endTurn`: the next request of this client may take its private connection (after the release). */
  #release(lease: Lease, reusable: boolean, reason: string, endTurn: (() => void) | null): void {
    // Let undici finish its own bookkeeping for this response before the connection is reused.
    queueMicrotask(() => {
      lease.pool.release(lease.conn, reusable, reason);
      endTurn?.();
    });
  }

  #logAccess(req: ProxyRequest, j: Journey): void {
    recordAccess(this.log, this.accessLog, this.timings, req, j);
  }
}

/** Farm `request-buffer` when absent (README "Configuration reference"). */
const DEFAULT_REQUEST_BUFFER = 64 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


