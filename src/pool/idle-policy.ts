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
