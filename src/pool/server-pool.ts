import { performance } from 'node:perf_hooks';
import type { PoolConfig } from '../config/config-types.js';
import type { ClientConnection } from '../core/client-connection.js';
import { LonghaulError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';
import type { BackendConnection } from './backend-connection.js';
import { burstPatience } from './burst-policy.js';
import { DemandTracker } from './demand-tracker.js';
import { handoverPatience } from './handover-policy.js';
import { purgeCount } from './idle-policy.js';
import type { Lease, LeaseRequest } from './lease.js';
import { LeaseQueue } from './lease-queue.js';
import { PoolConnections } from './pool-connections.js';
import { bindOwner, privateLeasable, releasePrivate } from './private-leasing.js';
import type { ServerBudget } from './server-budget.js';
import { PurgeTimer } from './purge-timer.js';
import { releaseVerdict } from './release-policy.js';
import { WarmUp, type WarmOutcome } from './warm-up.js';
import { newPoolCounters, poolSnapshot, type PoolCounters, type PoolSnapshot } from './pool-stats.js';

export interface ServerPoolOptions {
  /** Pool key: host:port:sni:identity (design "Pool rules / Key"). */
  key: string;
  host: string;
  port: number;
  sni: string | null;
  farmTls: FarmTls;
  sessions: TlsSessionCache;
  pool: PoolConfig;
  /** max-conn across all pools of the server (absent: this pool alone counts). */
  budget?: ServerBudget;
  connectTimeoutMs: number;
  queueTimeoutMs: number;
  log: Logger;
  /** The SNI was learned from a request's Host (PoolTarget.learnedName). */
  learnedName?: boolean;
}

export type { Lease, LeaseRequest } from './lease.js';

/**
 * The connection pool of one server and pool key: mechanism only (which connection to take is
 * idle-policy.ts, what becomes of one given back is release-policy.ts; opening connections and
 * following their states is pool-connections.ts). Leases are request-atomic: a connection is
 * leased for exactly one exchange and released after it (undici's pool-base/pool split;
 * Pingora's "back only after a clean exchange").
 *
 * Sizing invariants: open (connecting + idle + busy, draining excluded) <= max-conn;
 * idle <= max-idle; waiters are served FIFO and only when no idle connection or capacity is left.
 */
export class ServerPool {
  readonly key: string;
  readonly counters: PoolCounters = newPoolCounters();
  readonly #o: ServerPoolOptions;
  readonly #conns: PoolConnections;
  readonly #waiters = new LeaseQueue<Lease>();
  readonly demand = new DemandTracker();
  readonly #purge = new PurgeTimer(() => this.purgeOnce());
  readonly #warmUp = new WarmUp(
    () => !this.#closed && this.#idleAllowed && this.#conns.idle.length + this.#conns.count('connecting') < this.#o.pool.minIdle && this.#hasRoom(),
    () =>
      this.#conns.open(true).then((conn) => {
        if (conn.state !== 'connecting') return;
        if (this.#idleAllowed) conn.transition('idle', 'warmed');
        else this.#conns.retire(conn, 'server DOWN or MAINT while warming', 'other');
      }),
  );
  #closed = false;
  /** False while the server is DOWN or in MAINT: no connection may sit idle or be warmed. */
  #idleAllowed = true;

  constructor(opts: ServerPoolOptions) {
    this.#o = opts;
    this.key = opts.key;
    this.#conns = new PoolConnections(this.counters, opts, {
      connected: (conn, setupMs, resumed, warm) => {
        this.#o.log.debug({ pool: this.key, conn: conn.id, local_port: conn.socket?.localPort, resumed, setup_ms: Math.round(setupMs), why: warm ? 'min-idle' : 'request', open: this.#conns.all.size }, 'backend connection opened');
        this.demand.recordSetup(setupMs);
        if (!this.#closed) this.#purge.start(this.#o.pool.purgeInterval);
      },
      freed: () => this.#o.budget?.freed(this),
      closed: (conn) => {
        this.#o.log.debug({ pool: this.key, conn: conn.id, uses: conn.uses, reason: conn.closeReason }, 'backend connection closed');
        this.serveWaiters();
        if (!this.#closed && this.#o.pool.minIdle > 0) this.warm();
      },
    });
  }

  get config(): PoolConfig {
    return this.#o.pool;
  }

  /** connecting + idle + busy (what max-conn limits). */
  get openCount(): number {
    return this.#conns.openCount;
  }

  get busyCount(): number {
    return this.#conns.count('busy');
  }

  get idleCount(): number {
    return this.#conns.idle.length;
  }

  get queueLength(): number {
    return this.#waiters.length;
  }

  get oldestWaitAt(): number | null {
    return this.#waiters.head()?.enqueuedAt ?? null;
  }

  lease(req: LeaseRequest): Promise<Lease> {
    if (this.#closed) return Promise.reject(new LonghaulError('LH_POOL_CLOSED', `pool ${this.key} is closed`));
    if (req.signal?.aborted) return Promise.reject(abortedError());
    const started = performance.now();
    const conn = this.#takeIdle(req);
    if (conn) return Promise.resolve(this.#leaseOf(conn, started, 0));
    if (this.#hasRoom()) {
      const patience = req.fresh || this.#o.pool.burst === 'open' ? null : this.#burstPatience(started);
      if (patience === null) return this.#openFor(started);
      return this.#enqueue(req, started, patience, false);
    }
    // At max-conn, and the idle connections left here (if any) do not suit this request
    // (unproven for a POST, not fresh, not reused enough): replace the least recently used one.
    if (this.giveUpIdle()) return this.#openFor(started);
    // The server's budget is full with other keys' connections: take one of their idle ones only
    // when that shortens the wait (handover-policy.ts); otherwise wait for one of our own.
    if (this.#o.budget && this.openCount < this.#o.pool.maxConn) {
      const patience = this.#handoverPatience(started);
      if (patience === null && this.#waiters.length === 0 && this.#o.budget.reclaimFor(this)) {
        this.counters.handovers++;
        return this.#openFor(started);
      }
      return this.#enqueue(req, started, patience, patience === null);
    }
    return this.#enqueue(req, started, null, false);
  }

  /**
   * Wait in the FIFO queue. With `patience` (burst and hand-over policies), a waiter still queued
   * after that long gets a new connection if max-conn allows, or else takes another key's idle
   * one, or else becomes `impatient` (the next wake-up may take one over); every waiter fails
   * after timeouts.queue, and leaves at once when its client aborts. A server queue already
   * holding pool.max-queue waiters (every key) answers LH_QUEUE_FULL at once (HAProxy maxqueue).
   */
  #enqueue(req: LeaseRequest, started: number, patience: number | null, impatient: boolean): Promise<Lease> {
    const maxQueue = this.#o.pool.maxQueue ?? 0;
    if (this.#o.budget ? this.#o.budget.queueFull() : maxQueue > 0 && this.#waiters.length >= maxQueue) {
      this.counters.queueFull++;
      return Promise.reject(new LonghaulError('LH_QUEUE_FULL', `queue of ${this.#o.host}:${this.#o.port} is full (max-queue ${maxQueue})`));
    }
    this.counters.queued++;
    if (patience !== null) this.counters.burstWaits++;
    return this.#waiters.add(
      req,
      started,
      this.#o.queueTimeoutMs,
      (w) => {
        this.counters.queueTimeouts++;
        w.reject(new LonghaulError('LH_QUEUE_TIMEOUT', `no connection to ${this.key} within ${this.#o.queueTimeoutMs} ms`));
      },
      patience,
      (w) => {
        if (this.#closed) return;
        if (this.#hasRoom()) {
          this.#waiters.take(w);
          this.counters.burstOpened++;
          this.#openFor(started).then(w.resolve, w.reject);
          return;
        }
        w.impatient = true;
        this.serveWaiters();
      },
      (w) => {
        this.counters.queueAborted++;
        w.reject(abortedError());
      },
      impatient,
    );
  }

  /** The policies' input: since when each busy connection (and, for the hand-over, each one still connecting: now) has been leased. */
  #leasedAt(now: number, withConnecting: boolean): number[] {
    const out: number[] = [];
    for (const c of this.#conns.all) {
      if (c.state === 'busy') out.push(c.leasedAt);
      else if (withConnecting && c.state === 'connecting') out.push(now);
    }
    return out;
  }

  #handoverPatience(now: number): number | null {
    return handoverPatience(this.demand, this.#leasedAt(now, true), this.#waiters.length, now);
  }

  #burstPatience(now: number): number | null {
    return burstPatience(this.demand, this.#leasedAt(now, false), this.#waiters.length, now);
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
    const verdict = releaseVerdict(conn, reusable, reason, p, this.#closed);
    if (verdict === 'private') {
      releasePrivate(this.#conns, conn, this.#idleAllowed);
      return;
    }
    if (verdict !== 'keep') {
      this.#conns.retire(conn, verdict.retire, verdict.kind);
    } else if (this.openCount > p.maxConn || (this.#o.budget && this.#o.budget.open > this.#o.budget.max)) {
      // max-conn was lowered by a reload: shrink as exchanges end.
      this.#conns.retire(conn, 'above max-conn', 'other');
    } else {
      const waiter = this.#waiters.head();
      if (waiter && this.#o.budget?.starvedBefore(this, waiter.enqueuedAt)) {
        // Fairness across keys: an older waiter of a key with no connection gets the room.
        this.counters.handedOver++;
        this.#conns.retire(conn, 'closed for an older waiter of a key with no connection', 'other');
        return;
      }
      // A released connection goes first to a waiter of its own key (design "Shared budgets
      // hand over by key"), straight to the head of the FIFO queue when it suits it.
      if (waiter && !waiter.req.fresh && conn.uses >= (waiter.req.minUses ?? 0)) {
        this.#waiters.take(waiter);
        this.#markLeased(conn);
        waiter.resolve(this.#leaseOf(conn, waiter.enqueuedAt, 0));
        return;
      }
      if (!this.#idleAllowed) {
        this.#conns.retire(conn, 'server DOWN or MAINT: not kept idle', 'other');
        return;
      }
      conn.transition('idle', 'released');
    }
    this.serveWaiters();
    // Every release wakes the waiters of every key of the server: one of them may take this
    // idle connection over when its wait is the longer one (a close wakes them via `freed`).
    this.#o.budget?.wake(this);
  }

  /**
   * Make a busy connection private to one client connection (design "Private connections"):
   * from its release on it is never in the shared idle list, only `leasePrivate` can take it, and
   * it is retired when that client connection closes.
   */
  makePrivate(conn: BackendConnection, owner: ClientConnection): void {
    bindOwner(this.#conns, this.counters, conn, owner);
  }

  /** Lease a private connection for its owner's next request; null when it is busy or gone. */
  leasePrivate(conn: BackendConnection): Lease | null {
    if (this.#closed || !privateLeasable(this.#conns, conn)) return null;
    const started = performance.now();
    conn.transition('busy', 'leased (private)');
    this.#markLeased(conn);
    return this.#leaseOf(conn, started, 0);
  }

  /** Open min-idle connections one after another, so every one after the first resumes TLS. */
  warm(): void {
    if (!this.#closed && this.#idleAllowed) this.#warmUp.start();
  }

  /**
   * First outcome of warming: `warm` (a connection is open), `failed` (the first attempt failed),
   * or `none` at once when this pool does not warm (min-idle 0, closed, server DOWN or MAINT).
   */
  warmed(): Promise<WarmOutcome> {
    if (this.#closed || !this.#idleAllowed || this.#o.pool.minIdle === 0) return Promise.resolve('none');
    return this.#warmUp.firstOutcome().then((ok) => (ok ? 'warm' : 'failed'));
  }

  /**
   * Close everything: waiters fail, idle connections retire now (close_notify + FIN), busy ones
   * after their exchange. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#purge.stop();
    this.#waiters.failAll(() => new LonghaulError('LH_POOL_CLOSED', `pool ${this.key} is closed`));
    this.#conns.closeIdle('pool closed');
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.#conns.all.size === 0) resolve();
        else setTimeout(check, 20).unref();
      };
      check();
    });
  }

  /**
   * New limits from a reload, applied live: a higher max-conn serves queued waiters at once; a
   * lower one retires idle connections now and busy ones as their exchange ends (never cut);
   * max-idle and min-idle take effect now. Queue timers already running keep their deadline.
   */
  updateLimits(pool: PoolConfig, timeouts: { connectTimeoutMs: number; queueTimeoutMs: number }): void {
    if (this.#closed) return;
    this.#o.pool = pool;
    this.#o.connectTimeoutMs = timeouts.connectTimeoutMs;
    this.#o.queueTimeoutMs = timeouts.queueTimeoutMs;
    this.#purge.retime(pool.purgeInterval);
    while (this.openCount > pool.maxConn && this.#conns.idle.length > 0) this.#conns.retire(this.#conns.idle[0]!, 'above max-conn', 'other');
    this.#conns.trimIdle();
    this.serveWaiters();
    if (pool.minIdle > 0) this.warm();
  }

  /** Close idle connections now. */
  closeIdle(reason: string): void {
    this.#conns.closeIdle(reason);
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
    return poolSnapshot(this.key, this.#conns.all, this.#waiters.length, this.counters);
  }

  /** Connections currently known (any state but closed), for tests and admin. */
  connections(): readonly BackendConnection[] {
    return [...this.#conns.all];
  }

  #takeIdle(req: LeaseRequest): BackendConnection | null {
    if (req.fresh) return null;
    const conn = this.#conns.takeIdle(req, this.#o.pool.provenWindow);
    if (conn) this.#markLeased(conn);
    return conn;
  }

  #leaseOf(conn: BackendConnection, started: number, connectMs: number, opened = false): Lease {
    this.counters.leases++;
    const reused = conn.uses > 0;
    if (reused) this.counters.leasesReused++;
    return { conn, pool: this, reused, opened, queueMs: performance.now() - started - connectMs, connectMs };
  }

  #openFor(started: number): Promise<Lease> {
    const t0 = performance.now();
    return this.#conns.open().then((conn) => {
      conn.transition('busy', 'leased fresh');
      this.#markLeased(conn);
      return this.#leaseOf(conn, started, performance.now() - t0, true);
    });
  }

  /**
   * Serve queued requests, oldest first, while an idle connection of this key, capacity, or (for
   * an impatient waiter, or when waiting no longer pays) another key's idle connection allows.
   * Runs on every release and close of any pool of the server (ServerBudget.wake).
   */
  serveWaiters(): void {
    while (this.#waiters.length > 0 && !this.#closed) {
      const w = this.#waiters.head()!;
      const conn = this.#takeIdle(w.req);
      if (conn) {
        this.#waiters.take(w);
        w.resolve(this.#leaseOf(conn, w.enqueuedAt, 0));
        continue;
      }
      if (!this.#hasRoom() && !this.giveUpIdle()) {
        const budget = this.#o.budget;
        if (!budget || this.openCount >= this.#o.pool.maxConn) return;
        if (!w.impatient && this.#handoverPatience(performance.now()) !== null) return;
        if (!budget.reclaimFor(this)) return;
        this.counters.handovers++;
      }
      this.#waiters.take(w);
      this.#openFor(w.enqueuedAt).then(w.resolve, w.reject);
    }
  }

  /** max-conn counts this pool's connections and, through the budget, the server's other pools'. */
  #hasRoom(): boolean {
    return this.openCount < this.#o.pool.maxConn && (this.#o.budget?.hasRoom() ?? true);
  }

  /** Retire the least recently used shared idle connection (the server budget asks this). */
  giveUpIdle(): boolean {
    const victim = this.#conns.idle[0];
    if (!victim) return false;
    this.#conns.retire(victim, 'replaced for a request that needs another connection', 'other');
    return true;
  }

  #markLeased(conn: BackendConnection): void {
    conn.leasedAt = performance.now();
    this.demand.noteBusy(this.busyCount);
  }

  /** One purge step (exposed for tests and the admin). Returns how many idle connections it closed. */
  purgeOnce(): number {
    const busy = this.busyCount;
    const idle = this.#conns.idle;
    const close = purgeCount(busy, idle.length, this.#o.pool.minIdle, this.demand.peakBusy);
    for (let i = 0; i < close && idle.length > 0; i++) this.#conns.retire(idle[0]!, 'purged: above recent demand', 'idle');
    this.demand.resetPeak(busy);
    return close;
  }
}

function abortedError(): LonghaulError {
  return new LonghaulError('LH_CLIENT_ABORTED', 'client went away while its request waited for a connection');
}
