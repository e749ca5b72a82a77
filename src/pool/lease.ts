import type { BackendConnection } from './backend-connection.js';
import type { ServerPool } from './server-pool.js';

/** What a request asks of a pool. */
export interface LeaseRequest {
  /**
   * Only a connection opened for this request will do (retry after a stale reused connection;
   * `http-reuse safe|never` for a client connection's first request).
   */
  fresh?: boolean;
  /** Non-idempotent requests only ride connections used within proven-window (design). */
  idempotent: boolean;
  /** Only idle connections that completed at least this many exchanges (`http-reuse aggressive`: 2). */
  minUses?: number;
  /**
   * The client's request: aborted, it leaves the queue at once (rejected LH_CLIENT_ABORTED) and
   * never takes a connection (issue 11 item 6).
   */
  signal?: AbortSignal;
}

export interface Lease {
  conn: BackendConnection;
  /** The pool the connection goes back to. */
  pool: ServerPool;
  /** The connection served an exchange before this one. */
  reused: boolean;
  /** This lease opened the connection (paid TCP + TLS); false and !reused = a warm min-idle one's first use (issue 12 item 7). */
  opened?: boolean;
  queueMs: number;
  connectMs: number;
}
