import { performance } from 'node:perf_hooks';
import type { BackendConnection } from './backend-connection.js';

/**
 * Which idle connection a request takes (policy, apart from the pool's mechanism).
 * Most recently used first: it is the one least likely to be closed by the server right now
 * (the idle-close race), and it lets the least recently used ones age out.
 * A non-idempotent request only takes a connection that proved alive (handshake or exchange)
 * within `provenWindowMs`; otherwise the caller opens a fresh one (design "idle-close race").
 * `idle` is ordered least recently used first; it is not modified.
 */
export function pickIdle(idle: readonly BackendConnection[], idempotent: boolean, provenWindowMs: number): BackendConnection | null {
  const now = performance.now();
  for (let i = idle.length - 1; i >= 0; i--) {
    const conn = idle[i]!;
    if (idempotent || now - conn.lastUsedAt <= provenWindowMs) return conn;
    // Older ones are even less proven.
    return null;
  }
  return null;
}
