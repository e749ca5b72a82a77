/**
 * `GET /metrics`: Prometheus text exposition (issue 12 item 3) from a private prom-client
 * Registry. Every counter and gauge is collected at scrape time from the gateway's own stats
 * (the same numbers /stats shows), so the hot path is not instrumented a second time; only the
 * latency histograms are observed per request, with the access line (proxy/access-line.ts).
 *
 * Labels stay bounded: farm and server come from the config; pools are summed per server (a
 * farm with `sni: host` has one pool per client-chosen name); error codes and certificate
 * places are fixed sets.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { ServerSnapshot } from '../balancer/backend-server.js';
import type { AdminTarget } from './admin-routes.js';

interface StatsDoc {
  farms: Array<{ name: string; servers: ServerSnapshot[] }>;
  certificates: Array<{ where?: unknown; cert?: unknown; not_after?: unknown }>;
}

const STATES = ['UP', 'DOWN', 'DRAIN', 'MAINT'] as const;
const CONN_STATES = ['connecting', 'idle', 'busy', 'draining'] as const;

export function metricsRegistry(target: AdminTarget): Registry {
  const reg = new Registry();
  // One stats() per scrape, shared by every collector of that scrape.
  let doc: StatsDoc | null = null;
  let docAt = -1;
  let scrape = 0;
  const stats = (): StatsDoc => {
    if (docAt !== scrape) {
      doc = target.stats() as StatsDoc;
      docAt = scrape;
    }
    return doc!;
  };
  const servers = function* (): Generator<{ farm: string; s: ServerSnapshot }> {
    for (const f of stats().farms) for (const s of f.servers) yield { farm: f.name, s };
  };
  const sumPools = (s: ServerSnapshot, pick: (p: ServerSnapshot['pools'][number]) => number): number => s.pools.reduce((n, p) => n + pick(p), 0);

  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter<string>) => void): void => {
    new Counter({ name, help, labelNames, registers: [reg], collect() { this.reset(); fill(this); } });
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>) => void): void => {
    new Gauge({ name, help, labelNames, registers: [reg], collect() { this.reset(); fill(this); } });
  };

  // First collector of a scrape: a new stats() document.
  gauge('longhaul_up', 'The gateway process is running (1)', [], (g) => {
    scrape++;
    g.set(1);
  });
  counter('longhaul_requests_total', 'Responses from servers by status class', ['farm', 'server', 'code_class'], (c) => {
    for (const { farm, s } of servers()) for (const [cls, n] of Object.entries(s.counters.responses)) c.inc({ farm, server: s.name, code_class: cls }, n);
  });
  counter('longhaul_backend_requests_total', 'Requests sent to a server (every attempt)', ['farm', 'server', 'conn'], (c) => {
    for (const { farm, s } of servers()) {
      c.inc({ farm, server: s.name, conn: 'reused' }, s.counters.requestsOnReused);
      c.inc({ farm, server: s.name, conn: 'new' }, s.counters.requests - s.counters.requestsOnReused);
    }
  });
  // By cause (issue 12 item 3): `server` is the one whose attempt failed, `cause` the stable
  // LH_ code of that failure (a fixed catalogue, src/core/errors.ts), `kind` whether the retry
  // used up one of the farm's `retries` (counted) or was the free idle-close-race one (stale).
  counter('longhaul_retries_total', 'Requests retried after a failed attempt, by the server that failed, the failure\'s code and whether it used up a retry', ['farm', 'server', 'cause', 'kind'], (c) => {
    for (const { farm, s } of servers()) {
      for (const [cause, n] of Object.entries(s.counters.retryCauses ?? {})) {
        c.inc({ farm, server: s.name, cause, kind: 'counted' }, n.counted);
        c.inc({ farm, server: s.name, cause, kind: 'stale' }, n.stale);
      }
    }
  });
  counter('longhaul_retry_attempts_total', 'Attempts after the first one of a request, by the server they went to', ['farm', 'server'], (c) => {
    for (const { farm, s } of servers()) c.inc({ farm, server: s.name }, s.counters.retries);
  });
  counter('longhaul_backend_errors_total', 'Failed attempts by stable error code (the causes of retries)', ['farm', 'server', 'code'], (c) => {
    for (const { farm, s } of servers()) for (const [code, n] of Object.entries(s.counters.errors)) c.inc({ farm, server: s.name, code }, n);
  });
  gauge('longhaul_backend_connections', 'Backend connections by state (summed over the server\'s pools)', ['farm', 'server', 'state'], (g) => {
    for (const { farm, s } of servers()) {
      for (const st of CONN_STATES) g.set({ farm, server: s.name, state: st }, sumPools(s, (p) => p[st]));
      g.set({ farm, server: s.name, state: 'private' }, sumPools(s, (p) => p.private));
    }
  });
  counter('longhaul_tls_handshakes_total', 'TLS handshakes to servers, full or resumed', ['farm', 'server', 'kind'], (c) => {
    for (const { farm, s } of servers()) {
      c.inc({ farm, server: s.name, kind: 'full' }, sumPools(s, (p) => p.counters.handshakesFull));
      c.inc({ farm, server: s.name, kind: 'resumed' }, sumPools(s, (p) => p.counters.handshakesResumed));
    }
  });
  counter('longhaul_connect_failures_total', 'Backend connects or TLS handshakes that failed', ['farm', 'server'], (c) => {
    for (const { farm, s } of servers()) c.inc({ farm, server: s.name }, sumPools(s, (p) => p.counters.connectFailures));
  });
  counter('longhaul_backend_retired_total', 'Backend connections retired, by cause', ['farm', 'server', 'cause'], (c) => {
    for (const { farm, s } of servers()) {
      c.inc({ farm, server: s.name, cause: 'server' }, sumPools(s, (p) => p.counters.retiredByServer));
      c.inc({ farm, server: s.name, cause: 'idle' }, sumPools(s, (p) => p.counters.retiredIdle));
      c.inc({ farm, server: s.name, cause: 'broken' }, sumPools(s, (p) => p.counters.retiredBroken));
      c.inc({ farm, server: s.name, cause: 'other' }, sumPools(s, (p) => p.counters.retiredOther));
    }
  });
  gauge('longhaul_queue_length', 'Requests waiting for a backend connection', ['farm', 'server'], (g) => {
    for (const { farm, s } of servers()) g.set({ farm, server: s.name }, sumPools(s, (p) => p.queue));
  });
  counter('longhaul_queued_total', 'Requests that had to wait for a backend connection', ['farm', 'server'], (c) => {
    for (const { farm, s } of servers()) c.inc({ farm, server: s.name }, sumPools(s, (p) => p.counters.queued));
  });
  counter('longhaul_queue_timeouts_total', 'Requests that waited timeouts.queue and got 503', ['farm', 'server'], (c) => {
    for (const { farm, s } of servers()) c.inc({ farm, server: s.name }, sumPools(s, (p) => p.counters.queueTimeouts));
  });
  gauge('longhaul_server_in_flight', 'Requests in flight on a server', ['farm', 'server'], (g) => {
    for (const { farm, s } of servers()) g.set({ farm, server: s.name }, s.active);
  });
  gauge('longhaul_server_weight', 'Current weight of a server', ['farm', 'server'], (g) => {
    for (const { farm, s } of servers()) g.set({ farm, server: s.name }, s.weight);
  });
  gauge('longhaul_server_up', 'Server is UP (1) or not (0)', ['farm', 'server'], (g) => {
    for (const { farm, s } of servers()) g.set({ farm, server: s.name }, s.state === 'UP' ? 1 : 0);
  });
  gauge('longhaul_server_state', 'Server state: 1 for the current one of UP, DOWN, DRAIN, MAINT', ['farm', 'server', 'state'], (g) => {
    for (const { farm, s } of servers()) for (const st of STATES) g.set({ farm, server: s.name, state: st }, s.state === st ? 1 : 0);
  });
  counter('longhaul_health_checks_total', 'Health checks run against a server, by result', ['farm', 'server', 'result'], (c) => {
    for (const { farm, s } of servers()) {
      const ch = s.health?.checks as { checks?: number; ok?: number; failed?: number } | null | undefined;
      if (!ch) continue;
      c.inc({ farm, server: s.name, result: 'ok' }, ch.ok ?? 0);
      c.inc({ farm, server: s.name, result: 'failed' }, ch.failed ?? 0);
    }
  });
  gauge('longhaul_certificate_expiry_timestamp_seconds', 'notAfter of every certificate the gateway serves (listeners) or presents (farm client certificates), Unix seconds', ['where', 'file'], (g) => {
    for (const c of stats().certificates) {
      const at = Date.parse(String(c.not_after));
      if (Number.isFinite(at)) g.set({ where: String(c.where), file: String(c.cert) }, Math.floor(at / 1000));
    }
  });
  for (const h of target.exchangeTimings?.all ?? []) reg.registerMetric(h as Metric);
  return reg;
}
