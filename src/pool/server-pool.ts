import { performance } from 'node:perf_hooks';
import type { PoolConfig } from '../config/config-types.js';
import { LonghaulError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connectTls } from '../tls/connect-tls.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';
import { BackendConnection, type ConnState } from './backend-connection.js';
import { burstPatience } from './burst-policy.js';
import { DemandTracker } from './demand-tracker.js';
import { pickIdle } from './idle-policy.js';
import { newPoolCounters, type PoolCounters, type PoolSnapshot } from './pool-stats.js';

export interface ServerPoolOptions {
  /** Pool key: host:port:sni:identity (design "Pool rules / Key"). */
  key: string;
  host: string;
  port: number;
  sni: string | null;
  farmTls: FarmTls;
  sessions: TlsSessionCache;
  pool: PoolConfig;
  connectTimeoutMs: number;
  queueTimeoutMs: number;
  log: Logger;
}

export interface LeaseRequest {
  /** Only a connection opened for this request will do (retry after a stale reused connection). */
  fresh?: boolean;
  /** Non-idempotent requests only ride connections used within proven-window (design). */
  idempotent: boolean;
}

export interface Lease {
  conn: BackendConnection;
  /** The pool the connection goes back to. */
  pool: ServerPool;
  /** The connection served an exchange before this one. */
  reused: boolean;
  queueMs: number;
  connectMs: number;
}

interface Waiter {
  req: LeaseRequest;
  enqueuedAt: number;
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  patienceTimer: NodeJS.Timeout | null;
}

/**
 * The connection pool of one server and pool key: mechanism only (which connection to take is
 * idle-policy.ts). Leases are request-atomic: a connection is leased for exactly one exchange and
 * released after it (undici's pool-base/pool split; Pingora's "back only after a clean exchange").
 *
 * Sizing invariants: open (connecting + idle + busy, draining excluded) <= max-conn;
 * idle <= max-idle; waiters are served FIFO and only when no idle connection or capacity is left.
 */
export class ServerPool {
  readonly key: string;
  readonly counters: PoolCounters = newPoolCounters();
  readonly #o: ServerPoolOptions;
  readonly #conns = new Set<BackendConnection>();
  /** Idle connections, least recently used first (MRU at the end). */
  readonly #idle: BackendConnection[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #idleTimers = new Map<BackendConnection, NodeJS.Timeout>();
  readonly demand = new DemandTracker();
  #purgeTimer: NodeJS.Timeout | null = null;
  #warming = false;
  #warmFailures = 0;
  #closed = false;
  /** False while the server is DOWN or in MAINT: no connection may sit idle or be warmed. */
  #idleAllowed = true;

  constructor(opts: ServerPoolOptions) {
    this.#o = opts;
    this.key = opts.key;
  }

  get config(): PoolConfig {
    return this.#o.pool;
  }

  /** connecting + idle + busy (what max-conn limits). */
  get openCount(): number {
    let n = 0;
    for (const c of this.#conns) if (c.state !== 'draining' && c.state !== 'closed') n++;
    return n;
  }

  get busyCount(): number {
    let n = 0;
    for (const c of this.#conns) if (c.state === 'busy') n++;
    return n;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get queueLength(): number {
    return this.#waiters.length;
  }

  lease(req: LeaseRequest): Promise<Lease> {
    if (this.#closed) return Promise.reject(new LonghaulError('LH_POOL_CLOSED', `pool ${this.key} is closed`));
    const started = performance.now();
    if (!req.fresh) {
      const conn = this.#takeIdle(req);
      if (conn) return Promise.resolve(this.#leaseOf(conn, started, 0));
    }
    if (this.openCount < this.#o.pool.maxConn) {
      const patience = req.fresh || this.#o.pool.burst === 'open' ? null : this.#burstPatience(started);
      if (patience === null) return this.#openFor(started);
      return this.#enqueue(req, started, patience);
    }
    if (req.fresh || !req.idempotent) {
      // At max-conn with only unproven idle connections: replace the oldest idle one.
      const victim = this.#idle[0];
      if (victim) {
        this.#retire(victim, 'replaced for a request that needs a fresh connection', 'other');
        return this.#openFor(started);
      }
    }
    return this.#enqueue(req, started, null);
  }

  /**
   * Wait in the FIFO queue. With `patience` (burst policy), a waiter still queued after that long
   * gets a new connection if max-conn allows; every waiter fails after timeouts.queue.
   */
  #enqueue(req: LeaseRequest, started: number, patience: number | null): Promise<Lease> {
    this.counters.queued++;
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        req,
        enqueuedAt: started,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#dequeue(waiter);
          this.counters.queueTimeouts++;
          reject(new LonghaulError('LH_QUEUE_TIMEOUT', `no connection to ${this.key} within ${this.#o.queueTimeoutMs} ms`));
        }, this.#o.queueTimeoutMs),
        patienceTimer:
          patience === null
            ? null
            : setTimeout(() => {
                if (!this.#waiters.includes(waiter) || this.openCount >= this.#o.pool.maxConn) return;
                this.#dequeue(waiter);
                this.counters.burstOpened++;
                this.#openFor(started).then(resolve, reject);
              }, patience),
      };
      if (patience !== null) this.counters.burstWaits++;
      this.#waiters.push(waiter);
    });
  }

  #dequeue(w: Waiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
    clearTimeout(w.timer);
    if (w.patienceTimer) clearTimeout(w.patienceTimer);
  }

  #burstPatience(now: number): number | null {
    const leasedAt: number[] = [];
    for (const c of this.#conns) if (c.state === 'busy') leasedAt.push(c.leasedAt);
    return burstPatience(this.demand, leasedAt, this.#waiters.length, now);
  }

  /**
   * Give a leased connection back. `reusable` is the exchange's verdict: the response was fully
   * read and the server did not ask to close. Anything else retires the connection.
   */
  release(conn: BackendConnection, reusable: boolean, reason = 'exchange failed'): void {
    if (conn.state !== 'busy') return;
    conn.uses++;
    conn.lastUsedAt = performance.now();
    this.demand.recordExchange(conn.lastUsedAt - conn.leasedAt);
    const p = this.#o.pool;
    if (!reusable || !conn.alive) {
      this.#retire(conn, reason, conn.alive ? 'broken' : 'server');
    } else if (this.#closed) {
      this.#retire(conn, 'pool closed', 'other');
    } else if (p.maxReuse > 0 && conn.uses >= p.maxReuse) {
      this.#retire(conn, 'max-reuse reached', 'other');
    } else if (p.maxAge > 0 && performance.now() - conn.createdAt >= p.maxAge) {
      this.#retire(conn, 'max-age reached', 'other');
    } else {
      const waiter = this.#waiters[0];
      if (waiter) {
        this.#dequeue(waiter);
        this.#markLeased(conn);
        waiter.resolve(this.#leaseOf(conn, waiter.enqueuedAt, 0));
        return;
      }
      if (!this.#idleAllowed) {
        this.#retire(conn, 'server DOWN or MAINT: not kept idle', 'other');
        return;
      }
      conn.transition('idle', 'released');
      return;
    }
    this.#serveWaiters();
  }

  /** Open min-idle connections one after another, so every one after the first resumes TLS. */
  warm(): void {
    if (this.#warming || this.#closed || !this.#idleAllowed) return;
    this.#warming = true;
    const step = (): void => {
      if (this.#closed || !this.#idleAllowed || this.#idle.length + this.#connectingCount() >= this.#o.pool.minIdle || this.openCount >= this.#o.pool.maxConn) {
        this.#warming = false;
        return;
      }
      this.#open(true)
        .then((conn) => {
          this.#warmFailures = 0;
          if (conn.state === 'connecting') {
            if (this.#idleAllowed) conn.transition('idle', 'warmed');
            else this.#retire(conn, 'server DOWN or MAINT while warming', 'other');
          }
          step();
        })
        .catch(() => {
          // Server down: back off (1 s, 2 s … 30 s) instead of hammering it.
          this.#warmFailures++;
          const t = setTimeout(() => {
            this.#warming = false;
            this.warm();
          }, Math.min(30_000, 1000 * 2 ** Math.min(5, this.#warmFailures - 1)));
          t.unref();
        });
    };
    step();
  }

  /**
   * Close everything: waiters fail, idle connections retire now (close_notify + FIN), busy ones
   * after their exchange. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#purgeTimer) clearInterval(this.#purgeTimer);
    for (const w of [...this.#waiters]) {
      this.#dequeue(w);
      w.reject(new LonghaulError('LH_POOL_CLOSED', `pool ${this.key} is closed`));
    }
    for (const c of [...this.#idle]) this.#retire(c, 'pool closed', 'other');
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.#conns.size === 0) resolve();
        else setTimeout(check, 20).unref();
      };
      check();
    });
  }

  /** Close idle connections now. */
  closeIdle(reason: string): void {
    for (const c of [...this.#idle]) this.#retire(c, reason, 'other');
  }

  /**
   * The server went DOWN or into MAINT (`false`): idle connections close now, connections coming
   * back from in-flight exchanges close instead of idling (unless a queued request takes them),
   * and min-idle warming stops (it would otherwise reopen what was just closed). `true` when the
   * server is back: warming resumes.
   */
  setIdleAllowed(allowed: boolean, reason: string): void {
    if (allowed === this.#idleAllowed) return;
    this.#idleAllowed = allowed;
    if (!allowed) this.closeIdle(reason);
    else if (this.#o.pool.minIdle > 0) this.warm();
  }

  snapshot(): PoolSnapshot {
    const s: PoolSnapshot = { key: this.key, open: 0, connecting: 0, idle: 0, busy: 0, draining: 0, queue: this.#waiters.length, counters: { ...this.counters } };
    for (const c of this.#conns) {
      if (c.state === 'connecting') s.connecting++;
      else if (c.state === 'idle') s.idle++;
      else if (c.state === 'busy') s.busy++;
      else if (c.state === 'draining') s.draining++;
    }
    s.open = s.connecting + s.idle + s.busy;
    return s;
  }

  /** Connections currently known (any state but closed), for tests and admin. */
  connections(): readonly BackendConnection[] {
    return [...this.#conns];
  }

  #connectingCount(): number {
    let n = 0;
    for (const c of this.#conns) if (c.state === 'connecting') n++;
    return n;
  }

  #takeIdle(req: LeaseRequest): BackendConnection | null {
    for (;;) {
      const conn = pickIdle(this.#idle, req.idempotent, this.#o.pool.provenWindow);
      if (!conn) return null;
      if (conn.alive) {
        conn.transition('busy', 'leased');
        this.#markLeased(conn);
        return conn;
      }
      // Saw FIN/error without the close event yet: evict and look again.
      this.#retire(conn, 'dead while idle', 'server');
    }
  }

  #leaseOf(conn: BackendConnection, started: number, connectMs: number): Lease {
    this.counters.leases++;
    const reused = conn.uses > 0;
    if (reused) this.counters.leasesReused++;
    return { conn, pool: this, reused, queueMs: performance.now() - started - connectMs, connectMs };
  }

  #openFor(started: number): Promise<Lease> {
    const t0 = performance.now();
    return this.#open().then((conn) => {
      conn.transition('busy', 'leased fresh');
      this.#markLeased(conn);
      return this.#leaseOf(conn, started, performance.now() - t0);
    });
  }

  /** Opens one connection; resolves with it still `connecting`: the caller makes it idle or busy. */
  #open(awaitSession = false): Promise<BackendConnection> {
    const conn = new BackendConnection((c, from, to) => this.#onState(c, from, to));
    this.#conns.add(conn);
    const o = this.#o;
    return connectTls({ host: o.host, port: o.port, sni: o.sni, farmTls: o.farmTls, sessions: o.sessions, timeoutMs: o.connectTimeoutMs, awaitSession }).then(
      ({ socket, resumed, setupMs }) => {
        if (resumed) this.counters.handshakesResumed++;
        else this.counters.handshakesFull++;
        this.demand.recordSetup(setupMs);
        this.#startPurge();
        conn.attach(socket, { resumed, setupMs, sni: o.sni }, `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`);
        if (conn.state !== 'connecting') throw new LonghaulError('LH_CONNECT_FAILED', `connection to ${o.host}:${o.port} closed right after the handshake`);
        return conn;
      },
      (err: Error) => {
        this.counters.connectFailures++;
        conn.transition('closed', err.message);
        throw err;
      },
    );
  }

  #onState(conn: BackendConnection, from: ConnState, to: ConnState): void {
    if (from === 'idle') this.#removeIdle(conn);
    if (to === 'idle') {
      this.#idle.push(conn);
      this.#armIdleTimer(conn);
      this.#trimIdle();
    } else if (to === 'closed') {
      this.#conns.delete(conn);
      this.#removeIdle(conn);
      if (!conn.retiredByPool) {
        conn.retiredByPool = true;
        if (from === 'idle') this.counters.retiredByServer++;
        else if (from === 'busy') this.counters.retiredBroken++;
      }
      this.#o.log.debug({ pool: this.key, conn: conn.id, uses: conn.uses, reason: conn.closeReason }, 'backend connection closed');
      this.#serveWaiters();
      if (!this.#closed && this.#o.pool.minIdle > 0) this.warm();
    }
  }

  /** Waiters left after a connection closed get new connections while capacity allows. */
  #serveWaiters(): void {
    while (this.#waiters.length > 0 && !this.#closed) {
      const w = this.#waiters[0]!;
      const conn = this.#takeIdle(w.req);
      if (conn) {
        this.#dequeue(w);
        w.resolve(this.#leaseOf(conn, w.enqueuedAt, 0));
        continue;
      }
      if (this.openCount >= this.#o.pool.maxConn) return;
      this.#dequeue(w);
      this.#openFor(w.enqueuedAt).then(w.resolve, w.reject);
    }
  }

  #markLeased(conn: BackendConnection): void {
    conn.leasedAt = performance.now();
    this.demand.noteBusy(this.busyCount);
  }

  /**
   * Demand sizing (HAProxy's pool purge): every purge-interval, half of the idle connections
   * above what the last period needed at its peak are closed, least recently used first, never
   * going below min-idle. A burst's connections thus fade out over several periods instead of
   * all at once, and come back cheaply if the burst returns.
   */
  #startPurge(): void {
    if (this.#purgeTimer || this.#closed) return;
    this.#purgeTimer = setInterval(() => this.purgeOnce(), this.#o.pool.purgeInterval);
    this.#purgeTimer.unref();
  }

  /** One purge step (exposed for tests and the admin). Returns how many idle connections it closed. */
  purgeOnce(): number {
    const busy = this.busyCount;
    const idle = this.#idle.length;
    const needed = Math.max(this.#o.pool.minIdle + busy, this.demand.peakBusy);
    const excess = Math.min(idle, busy + idle - needed);
    const close = excess > 0 ? Math.ceil(excess / 2) : 0;
    for (let i = 0; i < close && this.#idle.length > 0; i++) this.#retire(this.#idle[0]!, 'purged: above recent demand', 'idle');
    this.demand.resetPeak(busy);
    return close;
  }

  #removeIdle(conn: BackendConnection): void {
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    const t = this.#idleTimers.get(conn);
    if (t) {
      clearTimeout(t);
      this.#idleTimers.delete(conn);
    }
  }

  /**
   * Idle purge: close before the server would. Limit = the sooner of idle-timeout and the
   * server's Keep-Alive hint, minus a margin of about one connection setup (≥ 1 RTT: the server
   * starts its clock half an RTT before we see the response end, and our FIN needs half an RTT).
   */
  #armIdleTimer(conn: BackendConnection): void {
    const hint = conn.keepAliveHintMs;
    const limit = Math.min(this.#o.pool.idleTimeout, hint ?? Infinity);
    const margin = Math.min(Math.max(250, conn.info?.setupMs ?? 0), limit / 2);
    const t = setTimeout(() => {
      this.#idleTimers.delete(conn);
      if (conn.state === 'idle') this.#retire(conn, 'idle timeout', 'idle');
    }, Math.max(0, limit - margin));
    t.unref();
    this.#idleTimers.set(conn, t);
  }

  #trimIdle(): void {
    while (this.#idle.length > this.#o.pool.maxIdle) this.#retire(this.#idle[0]!, 'max-idle exceeded', 'other');
  }

  #retire(conn: BackendConnection, reason: string, kind: 'server' | 'idle' | 'broken' | 'other'): void {
    if (conn.state === 'closed' || conn.state === 'draining') return;
    conn.retiredByPool = true;
    if (kind === 'server') this.counters.retiredByServer++;
    else if (kind === 'idle') this.counters.retiredIdle++;
    else if (kind === 'broken') this.counters.retiredBroken++;
    else this.counters.retiredOther++;
    if (kind === 'broken' || !conn.alive) conn.transition('closed', reason);
    else conn.retire(reason);
  }
}
