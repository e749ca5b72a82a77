/**
 * The access-log line of one request (issue 12 item 7) and the latency histograms made from the
 * same numbers (issue 12 item 3), so that the hot path measures each exchange once.
 *
 * Fields: `rid` (request id: the client's `X-Request-Id` when sane, else generated; forwarded to
 * the server), `host`, client address and `client_port`, `tls` version, `bytes_in` (request body
 * bytes read from the client), `bytes` / `bytes_out` (response body bytes sent), HAProxy-style
 * timers in ms (`Tw` queue wait, `Tc` connect, `Tr` server response, `Ta` total active time, as
 * in HAProxy's `%Tw/%Tc/%Tr/%Ta`; HAProxy's `Tq` — request head time — is not measured because
 * `receivedAt` is taken when the head is complete, so `Tq` is always 0 and is left out),
 * `term` (two letters, HAProxy's termination state: who ended it, C client / S server / P proxy
 * / - normal; in which phase, R request / Q queue / C connect / H headers / D data / L last —
 * `--` is a normal end) and `conn`: `new` (this request paid TCP + TLS), `warm` (first use of a
 * pre-opened min-idle connection: no handshake paid) or `reused`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Histogram } from 'prom-client';
import type { Logger } from '../core/logger.js';
import type { ProxyRequest } from '../core/types.js';

/** What the forwarder knows about a request when it is over (forwarder.ts's Journey). */
export interface AccessJourney {
  server: { name: string } | null;
  attempts: number;
  reused: boolean;
  /** The last lease opened its connection (Lease.opened). */
  opened?: boolean;
  queueMs: number;
  connectMs: number;
  serverMs: number;
  status: number;
  bytes: number;
  error: string | null;
  requestId?: string;
  bytesIn?: () => number;
}

/** Sane request id: 1–128 visible ASCII characters, no spaces/quotes (safe in logs and headers). */
const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * The request id of `req` (its own `X-Request-Id` when sane, else a new UUID), written into the
 * upstream headers as the only `X-Request-Id` (a second or insane one is replaced).
 */
export function tagRequestId(req: ProxyRequest, upstream: string[], known?: string): string {
  const given = req.headers.filter(([n]) => n.toLowerCase() === 'x-request-id');
  const id = known ?? (given.length === 1 && SANE_ID.test(given[0]![1]) ? given[0]![1] : randomUUID());
  // `upstream` is undici's flat [name, value, name, value, …] list.
  for (let i = upstream.length - 2; i >= 0; i -= 2) if (upstream[i]!.toLowerCase() === 'x-request-id') upstream.splice(i, 2);
  upstream.push('x-request-id', id);
  return id;
}

/** HAProxy-like two-letter termination state from the stable error code (never message text). */
export function terminationState(j: AccessJourney): string {
  switch (j.error) {
    case null:
      return '--';
    case 'LH_CLIENT_ABORTED':
      return j.status > 0 ? 'CD' : j.serverMs > 0 ? 'CH' : j.connectMs > 0 ? 'CC' : j.attempts > 0 ? 'CQ' : 'CR';
    case 'LH_CLIENT_BAD_REQUEST':
      return 'CR';
    case 'LH_QUEUE_TIMEOUT':
      return 'PQ';
    case 'LH_NO_SERVER':
    case 'LH_POOL_CLOSED':
      return 'PC';
    case 'LH_CONNECT_FAILED':
    case 'LH_CONNECT_TIMEOUT':
      return 'SC';
    case 'LH_RESPONSE_ABORTED':
      return 'SD';
    case 'LH_UNSUPPORTED_METHOD':
      return 'PR';
    default:
      // LH_SERVER_TIMEOUT, LH_BAD_RESPONSE, LH_CONN_CLOSED_BEFORE_RESPONSE, LH_NOT_REPLAYED, …
      return 'SH';
  }
}

export function connKind(j: AccessJourney): 'new' | 'warm' | 'reused' | null {
  if (j.attempts === 0 || j.server === null) return null;
  return j.reused ? 'reused' : j.opened === false ? 'warm' : 'new';
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Per-farm latency histograms (seconds), observed once per request from the journey. Not
 * registered anywhere: the admin's /metrics registry adopts them (admin-metrics.ts).
 */
export class ExchangeTimings {
  readonly queue = new Histogram({ name: 'longhaul_queue_wait_seconds', help: 'Time requests waited for a backend connection (Tw)', labelNames: ['farm'], buckets: BUCKETS, registers: [] });
  readonly connect = new Histogram({ name: 'longhaul_connect_seconds', help: 'Time spent opening backend connections for requests (Tc; 0 on a pooled connection)', labelNames: ['farm'], buckets: BUCKETS, registers: [] });
  readonly server = new Histogram({ name: 'longhaul_server_response_seconds', help: 'Time from request sent to response head (Tr)', labelNames: ['farm'], buckets: BUCKETS, registers: [] });
  readonly total = new Histogram({ name: 'longhaul_request_duration_seconds', help: 'Total time of a request in the gateway (Ta)', labelNames: ['farm'], buckets: BUCKETS, registers: [] });
  readonly all = [this.queue, this.connect, this.server, this.total];
}

/** Observe the request's timings and (when `accessLog`) write its access line. */
export function recordAccess(log: Logger, accessLog: boolean, timings: ExchangeTimings, req: ProxyRequest, j: AccessJourney): void {
  const total = performance.now() - req.receivedAt;
  const farm = { farm: req.farm };
  if (j.attempts > 0) {
    timings.queue.observe(farm, j.queueMs / 1000);
    timings.connect.observe(farm, j.connectMs / 1000);
    if (j.serverMs > 0) timings.server.observe(farm, j.serverMs / 1000);
  }
  timings.total.observe(farm, total / 1000);
  if (!accessLog) return;
  log.info(
    {
      rid: j.requestId ?? null,
      listener: req.listener,
      client: req.remoteAddress,
      client_port: req.remotePort ?? null,
      tls: req.tlsVersion ?? null,
      host: req.headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? null,
      method: req.method,
      path: req.target,
      status: j.status,
      bytes: j.bytes,
      bytes_in: j.bytesIn?.() ?? 0,
      bytes_out: j.bytes,
      farm: req.farm,
      server: j.server?.name ?? null,
      conn: connKind(j),
      attempts: j.attempts,
      retries: Math.max(0, j.attempts - 1),
      term: terminationState(j),
      Tw: round(j.queueMs),
      Tc: round(j.connectMs),
      Tr: round(j.serverMs),
      Ta: round(total),
      queue_ms: round(j.queueMs),
      connect_ms: round(j.connectMs),
      server_ms: round(j.serverMs),
      total_ms: round(total),
      ...(j.error ? { error: j.error } : {}),
    },
    'access',
  );
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
