import { performance } from 'node:perf_hooks';
import type { PoolConfig } from '../config/config-types.js';
import type { BackendConnection } from './backend-connection.js';
import type { RetireKind } from './pool-stats.js';

/** A connection back from an exchange is retired (why, and how it counts), or kept. */
export type ReleaseVerdict = { retire: string; kind: RetireKind } | 'private' | 'keep';

/**
 * What becomes of a connection given back after an exchange (policy, apart from the pool's
 * mechanism), in this order: retired when the exchange failed or the pool is closed; `private`
 * when it belongs to one client connection (its owner decides, see ServerPool.release); retired
 * at max-reuse or max-age; else `keep` (the pool still checks max-conn, then hands it to a waiter
 * or parks it idle). `reusable` is the exchange's verdict: the response was fully read and the
 * server did not ask to close. `conn.uses` already counts this exchange.
 */
export function releaseVerdict(conn: BackendConnection, reusable: boolean, reason: string, p: PoolConfig, poolClosed: boolean): ReleaseVerdict {
  if (!reusable || !conn.alive) return { retire: reason, kind: conn.alive ? 'broken' : 'server' };
  if (poolClosed) return { retire: 'pool closed', kind: 'other' };
  // Private: back to its client connection only. max-reuse/max-age do not apply: retiring it
  // would lose the connection-based authentication (NTLM/Negotiate) the client went through.
  if (conn.owner) return 'private';
  if (p.maxReuse > 0 && conn.uses >= p.maxReuse) return { retire: 'max-reuse reached', kind: 'other' };
  if (p.maxAge > 0 && performance.now() - conn.createdAt >= p.maxAge) return { retire: 'max-age reached', kind: 'other' };
  return 'keep';
}
