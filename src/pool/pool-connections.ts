import type { PoolConfig } from '../config/config-types.js';
import { LonghaulError } from '../core/errors.js';
import { connectTls, TlsHandshakeError } from '../tls/connect-tls.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';
import { BackendConnection, type ConnState } from './backend-connection.js';
import { SocketReadBuffer } from './http1-codec.js';
import { idleDeadlineMs, pickIdle } from './idle-policy.js';
import type { LeaseRequest } from './lease.js';
import { countRetirement, type PoolCounters, type RetireKind } from './pool-stats.js';

/**
 * Where the pool's connections go, and its limits. A live view: a reload replaces `pool` and
 * `connectTimeoutMs` in place, and they are read at each use (ServerPoolOptions is one).
 */
export interface PoolTarget {
  host: string;
  port: number;
  sni: string | null;
  farmTls: FarmTls;
  sessions: TlsSessionCache;
  connectTimeoutMs: number;
  pool: PoolConfig;
  /**
   * The SNI is a name a client chose (`sni: host`): a failed TLS handshake is that name's fault
   * (the server has no certificate for it), LH_TLS_NAME_REFUSED, counted in this pool's
   * `nameFailures`, never in the server's health (issue 11 item 3).
   */
  learnedName?: boolean;
}

/** What the lifecycle bookkeeping tells its pool. */
export interface LifecycleHooks {
  /** A TLS handshake completed (before the connection is attached). */
  /** A connection finished its TLS handshake (`warm`: opened by min-idle warm-up, not for a request). */
  connected(conn: BackendConnection, setupMs: number, resumed: boolean, warm: boolean): void;
  /** A connection left the open set (draining or closed); runs in a microtask. */
  freed(): void;
  /** A connection closed; it is already out of the set and the idle list, and counted. */
  closed(conn: BackendConnection): void;
}

/**
 * The connections of one pool and their lifecycle: opening (TLS connect, then attach), taking an
 * idle one, retiring, and the bookkeeping of every state change (BackendConnection.transition
 * lands in #onState), which keeps the idle list, the idle deadlines, max-idle and the retirement
 * counters right. Invariants: the set holds every connection not yet closed; the idle list holds
 * exactly the shared (not private) idle ones.
 */
export class PoolConnections {
  readonly #conns = new Set<BackendConnection>();
  /** Idle connections, least recently used first (MRU at the end). */
  readonly #idle: BackendConnection[] = [];
  /** Connections per state, kept by #onState (O(1) reads on every lease; issue 14 item 2). */
  readonly #counts: Record<ConnState, number> = { connecting: 0, idle: 0, busy: 0, draining: 0, closed: 0 };

  constructor(
    private readonly counters: PoolCounters,
    private readonly target: PoolTarget,
    private readonly hooks: LifecycleHooks,
  ) {}

  /** Opens one connection; resolves with it still `connecting`: the caller makes it idle or busy. */
  open(awaitSession = false): Promise<BackendConnection> {
    const conn = new BackendConnection((c, from, to) => this.#onState(c, from, to));
    this.#conns.add(conn);
    this.#counts.connecting++;
    const o = this.target;
    const reader = new SocketReadBuffer();
    return connectTls({ host: o.host, port: o.port, sni: o.sni, farmTls: o.farmTls, sessions: o.sessions, timeoutMs: o.connectTimeoutMs, awaitSession, onread: reader }).then(
      ({ socket, resumed, setupMs }) => {
        if (resumed) this.counters.handshakesResumed++;
        else this.counters.handshakesFull++;
        conn.attach(socket, { resumed, setupMs, sni: o.sni }, reader);
        this.hooks.connected(conn, setupMs, resumed, awaitSession);
        if (conn.state !== 'connecting') throw new LonghaulError('LH_CONNECT_FAILED', `connection to ${o.host}:${o.port} closed right after the handshake`);
        return conn;
      },
      (err: Error) => {
        conn.transition('closed', err.message);
        if (o.learnedName && err instanceof TlsHandshakeError) {
          this.counters.nameFailures++;
          throw new LonghaulError('LH_TLS_NAME_REFUSED', `${o.host}:${o.port} refused the TLS handshake for ${o.sni}: ${err.message}`, { cause: err });
        }
        this.counters.connectFailures++;
        throw err;
      },
    );
  }

  /** Every connection not yet closed. */
  get all(): ReadonlySet<BackendConnection> {
    return this.#conns;
  }

  /** Shared idle connections, least recently used first (MRU at the end). */
  get idle(): readonly BackendConnection[] {
    return this.#idle;
  }

  /** connecting + idle + busy (what max-conn limits). */
  get openCount(): number {
    const c = this.#counts;
    return c.connecting + c.idle + c.busy;
  }

  count(state: ConnState): number {
    return this.#counts[state];
  }

  /** The shared idle connection `req` may take (idle-policy.ts), now busy; null when none suits. */
  takeIdle(req: LeaseRequest, provenWindowMs: number): BackendConnection | null {
    for (;;) {
      const conn = pickIdle(this.#idle, req.idempotent, provenWindowMs, req.minUses ?? 0);
      if (!conn) return null;
      if (conn.alive) {
        conn.transition('busy', 'leased');
        return conn;
      }
      // Saw FIN/error without the close event yet: evict and look again.
      this.retire(conn, 'dead while idle', 'server');
    }
  }

  /** Close idle connections now (shared and private). */
  closeIdle(reason: string): void {
    for (const c of [...this.#conns]) if (c.state === 'idle') this.retire(c, reason, 'other');
  }

  trimIdle(): void {
    while (this.#idle.length > this.target.pool.maxIdle) this.retire(this.#idle[0]!, 'max-idle exceeded', 'other');
  }

  retire(conn: BackendConnection, reason: string, kind: RetireKind): void {
    if (conn.state === 'closed' || conn.state === 'draining') return;
    conn.retiredByPool = true;
    countRetirement(this.counters, kind);
    if (kind === 'broken' || !conn.alive) conn.transition('closed', reason);
    else conn.retire(reason);
  }

  #onState(conn: BackendConnection, from: ConnState, to: ConnState): void {
    this.#counts[from]--;
    if (to !== 'closed') this.#counts[to]++;
    if (from === 'idle') this.#removeIdle(conn);
    // Leaving the open set (draining or closed) frees server-wide capacity.
    if ((to === 'draining' || to === 'closed') && from !== 'draining') queueMicrotask(() => this.hooks.freed());
    if (to === 'idle') {
      // A private connection idles apart: only its owner's next request may take it.
      if (!conn.owner) this.#idle.push(conn);
      conn.armIdleDeadline(idleDeadlineMs(conn, this.target.pool.idleTimeout), () => this.retire(conn, 'idle timeout', 'idle'));
      if (!conn.owner) this.trimIdle();
    } else if (to === 'closed') {
      this.#conns.delete(conn);
      this.#removeIdle(conn);
      if (!conn.retiredByPool) {
        conn.retiredByPool = true;
        if (from === 'idle') this.counters.retiredByServer++;
        else if (from === 'busy') this.counters.retiredBroken++;
      }
      this.hooks.closed(conn);
    }
  }

  #removeIdle(conn: BackendConnection): void {
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
  }
}
