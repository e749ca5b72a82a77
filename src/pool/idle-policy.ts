import { performance } from 'node:perf_hooks';
import type { BackendConnection } from './backend-connection.js';

/**
 * Which idle connection a request takes (policy, apart from the pool's mechanism).
 * Most recently used first: it is the one least likely to be closed by the server right now
 * (the idle-close race), and it lets the least recently used ones age out.
 * A non-idempotent request only takes a connection that proved alive (handshake or exchange)
 * within `provenWindowMs`; otherwise the caller opens a fresh one (design "idle-close race").
 * `minUses` (HAProxy's `http-reuse aggressive`): only connections that already carried that many
 * exchanges, i.e. proved the server keeps connections alive across requests.
 * `idle` is ordered least recently used first; it is not modified.
 */
export function pickIdle(idle: readonly BackendConnection[], idempotent: boolean, provenWindowMs: number, minUses = 0): BackendConnection | null {
  const now = performance.now();
  for (let i = idle.length - 1; i >= 0; i--) {
    const conn = idle[i]!;
    // Older ones are even less proven.
    if (!idempotent && now - conn.lastUsedAt > provenWindowMs) return null;
    if (conn.uses >= minUses) return conn;
  }
  return null;
}

/**
 * How long an idle connection may stay idle: the sooner of idle-timeout and the server's
 * Keep-Alive hint, minus a margin of about one connection setup (≥ 250 ms, ≥ 1 RTT: the server
 * starts its clock half an RTT before we see the response end, and our FIN needs half an RTT).
 */
export function idleDeadlineMs(conn: BackendConnection, idleTimeoutMs: number): number {
  const limit = Math.min(idleTimeoutMs, conn.keepAliveHintMs ?? Infinity);
  const margin = Math.min(Math.max(250, conn.info?.setupMs ?? 0), limit / 2);
  return Math.max(0, limit - margin);
}

/**
 * Demand sizing (HAProxy's pool purge): how many idle connections one purge step closes — half
 * of those above what the last period needed at its peak, never going below min-idle. A burst's
 * connections thus fade out over several periods instead of all at once.
 * What a period needed is its peak of busy connections PLUS min-idle, because warm-up keeps
 * min-idle connections idle beside the busy ones: trimming to the bare peak closed a connection
 * that warm-up reopened as soon as the next request made one busy (the close completes
 * asynchronously, warm-up runs on it) — a farm handshake per purge period under steady load
 * (bench: 10–20 handshakes per 1000 requests once warm; test/regression/pool-purge-warmup-churn).
 */
export function purgeCount(busy: number, idle: number, minIdle: number, peakBusy: number): number {
  const needed = minIdle + Math.max(busy, peakBusy);
  const excess = Math.min(idle, busy + idle - needed);
  return excess > 0 ? Math.ceil(excess / 2) : 0;
}
