import type { BackendServer } from '../balancer/backend-server.js';
import type { Farm } from '../balancer/farm.js';
import { errorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ProxyRequest, ResponseSink } from '../core/types.js';
import type { Lease } from '../pool/server-pool.js';
import { sendErrorResponse } from './error-response.js';
import { ExchangeError, runExchange, type ExchangeResult } from './exchange.js';
import { upstreamRequestHeaders } from './hop-headers.js';
import { isIdempotent } from './idempotency.js';
import { PrivateConnections } from './private-connections.js';
import { ReplayBody } from './replay-body.js';
import { classifyFailure, parseRetryOn } from './retry-policy.js';
import { reuseConstraints } from './reuse-policy.js';
import { ExchangeTimings, recordAccess, tagRequestId, type AccessJourney } from './access-line.js';

/** What one request's journey looked like: the access-log line and the stats are made from it. */
interface Journey extends AccessJourney {
  server: BackendServer | null;
  attempts: number;
  reused: boolean;
  queueMs: number;
  connectMs: number;
  serverMs: number;
  status: number;
  bytes: number;
  error: string | null;
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

  constructor(
    private readonly farms: ReadonlyMap<string, Farm>,
    private readonly log: Logger,
    /** One access-log line per request (`log.access`; a reload may change it). */
    public accessLog: boolean,
  ) {}

  readonly handle = (req: ProxyRequest, sink: ResponseSink): void => {
    this.#forward(req, sink).catch((err) => {
      this.log.error({ err }, 'forwarder bug');
      if (!sink.started && !sink.aborted) sendErrorResponse(sink, 500, 'LH_UNKNOWN');
      else if (!sink.aborted) sink.destroy();
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
    const body = req.body ? new ReplayBody(req.body, cfg.replayBuffer) : null;
    const host = req.headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
    const headers = upstreamRequestHeaders(req.headers, { remoteAddress: req.remoteAddress, keepContentLength: req.body?.length != null, forwarded: req.forwardedFor });
    j.requestId = tagRequestId(req, headers);
    if (body) j.bytesIn = () => body.bytesRead;
    // http-reuse / private connections (design "Pool rules"): what this request may ride.
    const reuse = reuseConstraints(cfg.httpReuse, req.client.requests <= 1);
    const alwaysPrivate = cfg.private || cfg.httpReuse === 'never';
    const tried = new Set<BackendServer>();
    let retriesLeft = cfg.retries;
    // Stale-connection retries are free, but never more than the pool could hold twice over.
    let staleLeft = 2 * Math.max(1, ...cfg.servers.map((s) => s.pool.maxConn));
    let fresh = false;
    let server: BackendServer | null = null;
    let connFailed = false;
    // A retry-on status is honoured only while a retry is still possible; the last attempt's
    // response is forwarded as is (as HAProxy does), never turned into a 502.
    const retryStatus =
      retryOn.statuses.size > 0 && idempotent
        ? (status: number): boolean => retryOn.statuses.has(status) && retriesLeft > 0 && !sink.aborted && (!body || body.replayable)
        : undefined;

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
        const pool = server.pool(server.sniFor(host));
        const own = fresh ? null : await this.#privates.lease(req.client, pool);
        endTurn = own?.done ?? null;
        lease = own?.lease ?? (await pool.lease({ fresh: fresh || reuse.fresh, idempotent, minUses: reuse.minUses }));
        reused = lease.reused;
        j.reused = reused;
        j.opened = lease.opened === true;
        j.queueMs += lease.queueMs;
        j.connectMs += lease.connectMs;
        server.counters.requests++;
        if (reused) server.counters.requestsOnReused++;
        const result: ExchangeResult = await runExchange(
          lease,
          { method: req.method, path: req.target, headers, body: body ? body.attempt() : null, serverTimeoutMs: cfg.timeouts.server, ...(retryStatus ? { retryStatus } : {}) },
          sink,
        );
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
        if (lease) this.#release(lease, reusable, (err as Error).message, endTurn);
        else endTurn?.();
        endTurn = null;
        const code = errorCode(err);
        j.error = code;
        // A client fault never counts against the server (design "Blame the right side").
        if (code !== 'LH_CLIENT_BAD_REQUEST') server.countError(code, reused);
        const phase = err instanceof ExchangeError ? err.phase : 'not-written';
        if (code === 'LH_CLIENT_ABORTED' || sink.aborted) return this.#logAccess(req, j);
        if (phase === 'response-started') {
          // The client has part of a response: the only honest thing left is to cut it.
          sink.destroy();
          return this.#logAccess(req, j);
        }
        const bodyLost = !!body && !body.replayable && body.bytesRead > 0;
        const retry = classifyFailure({ code, phase, idempotent, reused, bodyLost }, retryOn);
        connFailed = code === 'LH_CONNECT_FAILED' || code === 'LH_CONNECT_TIMEOUT';
        if (retry === 'stale' && staleLeft > 0) {
          staleLeft--;
          fresh = phase === 'written';
        } else if (retry === 'counted' && retriesLeft > 0) {
          retriesLeft--;
          tried.add(server);
          fresh = false;
        } else if (phase === 'written' && (!idempotent || bodyLost) && code !== 'LH_CLIENT_BAD_REQUEST') {
          this.log.warn(
            { method: req.method, path: req.target, server: server.name, cause: code, body_replayable: !bodyLost },
            'request was written and the connection failed before any response: the server may have processed it; not replayed',
          );
          // A timeout stays a 504 (its code says what happened); anything else is LH_NOT_REPLAYED.
          j.error = code === 'LH_SERVER_TIMEOUT' ? code : 'LH_NOT_REPLAYED';
          j.status = sendErrorResponse(sink, code === 'LH_SERVER_TIMEOUT' ? 504 : 502, j.error);
          return this.#logAccess(req, j);
        } else {
          const status = code === 'LH_CLIENT_BAD_REQUEST' ? 400 : code === 'LH_SERVER_TIMEOUT' ? 504 : code === 'LH_QUEUE_TIMEOUT' || code === 'LH_POOL_CLOSED' ? 503 : 502;
          j.status = sendErrorResponse(sink, status, code);
          return this.#logAccess(req, j);
        }
      } finally {
        server.active--;
      }
    }
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


