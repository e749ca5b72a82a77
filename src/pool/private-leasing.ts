import type { ClientConnection } from '../core/client-connection.js';
import type { BackendConnection } from './backend-connection.js';
import type { PoolConnections } from './pool-connections.js';
import type { PoolCounters } from './pool-stats.js';

/**
 * Private connections, the pool's side (design "Private connections"; the registry of which
 * client owns which is src/proxy/private-connections.ts). A connection made private to one client
 * connection is, from its release on, never in the shared idle list (pool-connections.ts), only
 * its owner's next request takes it, and it is retired when that client connection closes.
 */

/** Make a busy connection private to `owner`; it is retired (if idle) when the owner closes. */
export function bindOwner(conns: PoolConnections, counters: PoolCounters, conn: BackendConnection, owner: ClientConnection): void {
  if (conn.owner === owner || conn.state === 'closed') return;
  conn.owner = owner;
  counters.madePrivate++;
  owner.onClose(() => {
    if (conn.state === 'idle') conns.retire(conn, 'private: client connection closed', 'other');
    // busy: release() sees the closed owner and retires it after the exchange.
  });
}

/** A private connection back from a good exchange: idle for its owner, or retired. */
export function releasePrivate(conns: PoolConnections, conn: BackendConnection, idleAllowed: boolean): void {
  if (conn.owner!.closed || !idleAllowed) conns.retire(conn, 'private: client connection closed or server down', 'other');
  else conn.transition('idle', 'released (private)');
}

/** True when a private connection can be leased now: idle and alive (a dead one is retired). */
export function privateLeasable(conns: PoolConnections, conn: BackendConnection): boolean {
  if (!conn.owner || conn.state !== 'idle') return false;
  if (!conn.alive) {
    conns.retire(conn, 'dead while idle', 'server');
    return false;
  }
  return true;
}
