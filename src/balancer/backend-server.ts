import type { WarmOutcome } from '../pool/warm-up.js';
import type { FarmConfig, PoolConfig, ServerConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { ServerBudget } from '../pool/server-budget.js';
import { ServerPool } from '../pool/server-pool.js';
import type { PoolSnapshot } from '../pool/pool-stats.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';
import { checkHost } from './host-header.js';
import { HealthChecker, type HealthCheckStats } from './health-check.js';
import { isObservedError } from './observe.js';
import { ServerStateMachine, type AdminState, type ServerState, type StateChange, type StateSnapshot } from './server-state.js';

export type { AdminState, ServerState };

export interface ServerCounters {
  requests: number;
  requestsOnReused: number;
  retries: number;
  responses: Record<string, number>; // by status class: 2xx, 3xx, 4xx, 5xx
  errors: Record<string, number>; // by error code
  /** Retries caused by a failed attempt on THIS server, by the failure's code: `counted` used up one of `retries`, `stale` is the free idle-close-race retry (issue 12 item 3, /metrics). */
  retryCauses: Record<string, { counted: number; stale: number }>;
}

export interface ServerSnapshot {
  name: string;
  address: string;
  state: ServerState;
  /** What the admin set; `ready` = no override. */
  admin: AdminState;
  backup: boolean;
  weight: number;
  active: number;
  health: (Omit<StateSnapshot, 'state' | 'admin'> & { checks: HealthCheckStats | null }) | null;
  pools: PoolSnapshot[];
  /** `sni: host`: learned-name pools evicted so far (tls.max-host-pools, or left empty). */
  hostPoolsEvicted: number;
  counters: ServerCounters;
}

/**
 * One server of a farm: its state (server-state.ts, driven by its health checker, passive
 * observation of live traffic and the admin), its runtime weight, its counters, and its pools
 * (one per pool key; with a fixed SNI there is exactly one). `active` counts in-flight requests
 * (leastconn).
 *
 * Lifecycle: start() warms the pool and starts the checker; close() stops both. A config reload
 * that keeps this object keeps its checker, state and weight with it.
 */
export class BackendServer {
  active = 0;
  readonly counters: ServerCounters = { requests: 0, requestsOnReused: 0, retries: 0, responses: {}, errors: {}, retryCauses: {} };
  readonly #pools = new Map<string, ServerPool>();
  /** Pools whose SNI a client chose (`sni: host`), bounded by tls.max-host-pools. */
  readonly #learned = new Set<ServerPool>();
  /** Learned-name pools evicted (LRU or empty). */
  hostPoolsEvicted = 0;
  /** max-conn is per server, across its pool keys. */
  readonly #budget: ServerBudget;
  #machine: ServerStateMachine;
  #checker: HealthChecker | null;
  #weight: number;

  constructor(
    public config: ServerConfig,
    private farm: FarmConfig,
    private readonly farmTls: FarmTls,
    private readonly sessions: TlsSessionCache,
    private readonly log: Logger,
  ) {
    this.#budget = new ServerBudget(config.pool.maxConn, config.pool.maxQueue ?? 0);
    this.#weight = config.weight;
    this.#machine = new ServerStateMachine(farm.health, (c) => this.#onStateChange(c));
    this.#checker = this.#newChecker(farm);
  }

  #newChecker(farm: FarmConfig): HealthChecker | null {
    const { host, port } = this.config.address;
    return farm.health.enabled
      ? new HealthChecker({
          health: farm.health,
          host,
          port,
          // The server's host name stands in for a Host header when the farm's SNI is `host`.
          sni: this.sniFor(host),
          hostHeader: checkHost(farm.hostHeader, farm.tls.sni.kind, this.sniFor(host), host, port),
          farmTls: this.farmTls,
          sessions: this.sessions,
          connectTimeoutMs: farm.timeouts.connect,
          log: this.log,
          nextDelay: () => this.#machine.nextCheckIn(),
          active: () => this.#machine.checking,
          onVerdict: (v) => this.#machine.checkResult(v),
        })
      : null;
  }

  get name(): string {
    return this.config.name;
  }

  get state(): ServerState {
    return this.#machine.state;
  }

  /** Runtime weight (config value until the admin changes it); read by the balance policies on every pick. */
  get weight(): number {
    return this.#weight;
  }

  /** Gets new requests: UP and weight > 0 (weight 0 takes a server out of rotation). */
  get usable(): boolean {
    return this.#machine.state === 'UP' && this.#weight > 0;
  }

  get checker(): HealthChecker | null {
    return this.#checker;
  }

  /** SNI this server's connection for a request with this Host header presents. */
  sniFor(hostHeader: string | undefined): string | null {
    return this.farmTls.sniFor(hostHeader, this.config.address.host);
  }

  /**
   * The pool for a given SNI; created on first use (and warmed if min-idle > 0, except for names
   * learned from traffic unless `tls.warm-host-pools`).
   *
   * With `sni: host` the names come from clients (issue 11 item 3): the server keeps at most
   * `tls.max-host-pools` of their pools, least recently used first out. A learned pool is
   * evicted only while idle (nothing busy, connecting or queued), and pools left with no
   * connection at all are dropped whenever a new name arrives; when every pool is busy the new
   * one is created anyway and the set shrinks back as they go idle.
   */
  pool(sni: string | null): ServerPool {
    const { host, port } = this.config.address;
    const key = `${host}:${port}:${sni ?? ''}:${this.farmTls.identity}`;
    const learned = this.farmTls.learnsNames && sni !== null;
    let pool = this.#pools.get(key);
    if (pool) {
      if (learned) {
        // Map order is the LRU order: most recently used last.
        this.#pools.delete(key);
        this.#pools.set(key, pool);
      }
      return pool;
    }
    if (learned) this.#evictLearnedPools();
    pool = new ServerPool({
      key,
      host,
      port,
      sni,
      farmTls: this.farmTls,
      sessions: this.sessions,
      pool: this.#poolConfig(learned),
      budget: this.#budget,
      connectTimeoutMs: this.farm.timeouts.connect,
      queueTimeoutMs: this.farm.timeouts.queue,
      log: this.log,
      learnedName: learned,
    });
    this.#pools.set(key, pool);
    if (learned) this.#learned.add(pool);
    this.#budget.add(pool);
    if (this.state === 'DOWN' || this.state === 'MAINT') pool.setIdleAllowed(false, `server ${this.state}`);
    else if (pool.config.minIdle > 0) pool.warm();
    return pool;
  }

  /** Pool limits for a pool; a learned name's pool keeps no min-idle unless `tls.warm-host-pools`. */
  #poolConfig(learned: boolean): PoolConfig {
    return learned && !this.farmTls.config.warmHostPools ? { ...this.config.pool, minIdle: 0 } : this.config.pool;
  }

  /** Room for one more learned pool: drop empty ones, then idle ones LRU first, down to max-host-pools - 1. */
  #evictLearnedPools(): void {
    const max = this.farmTls.config.maxHostPools ?? 64;
    const evictable = (p: ServerPool): boolean => p.busyCount === 0 && p.queueLength === 0 && p.snapshot().connecting === 0;
    for (const [key, p] of this.#pools) {
      if (this.#learned.has(p) && p.openCount === 0 && evictable(p)) this.#evict(key, p, 'no connection left');
    }
    for (const [key, p] of this.#pools) {
      if (this.#learned.size < max) return;
      if (this.#learned.has(p) && evictable(p)) this.#evict(key, p, `more than tls.max-host-pools (${max}) names`);
    }
  }

  #evict(key: string, p: ServerPool, why: string): void {
    this.#pools.delete(key);
    this.#learned.delete(p);
    this.#budget.remove(p);
    this.hostPoolsEvicted++;
    this.log.debug({ server: this.name, pool: key, reason: why }, 'host pool evicted');
    void p.close();
  }

  /**
   * Warm the pool of the farm's fixed SNI (`sni: host` pools warm on first use) and start the
   * health checks. Idempotent.
   */
  start(): void {
    if (this.farmTls.config.sni.kind !== 'host') this.pool(this.sniFor(undefined));
    this.#checker?.start();
  }

  /** The fixed-SNI pool's first warming outcome (ServerPool.warmed); `none` with `sni: host` (pools warm on first use). */
  warmed(): Promise<WarmOutcome> {
    if (this.farmTls.config.sni.kind === 'host') return Promise.resolve('none');
    return this.pool(this.sniFor(undefined)).warmed();
  }

  /**
   * A reload kept this server (same address, same farm TLS): take the new name, weight, backup
   * flag and pool limits without touching its connections.
   */
  reconfigure(config: ServerConfig, farm: FarmConfig): void {
    const healthChanged =
      JSON.stringify(farm.health) !== JSON.stringify(this.farm.health) ||
      farm.timeouts.connect !== this.farm.timeouts.connect ||
      // the check sends the traffic's Host (issue 13): a new host-header means new checks
      JSON.stringify(farm.hostHeader) !== JSON.stringify(this.farm.hostHeader);
    // HAProxy's rule (issue 12 item 8): a weight set at runtime (admin) survives a reload unless
    // the reload changes that server's configured weight.
    if (config.weight !== this.config.weight) this.#weight = config.weight;
    this.config = config;
    this.farm = farm;
    if (healthChanged) {
      // New check settings: checks start over (the server is UP but unproven, as at start);
      // an admin state (drain, maint) survives the reload.
      const admin = this.#machine.snapshot().admin;
      void this.#checker?.stop();
      this.#machine = new ServerStateMachine(farm.health, (c) => this.#onStateChange(c));
      if (admin !== 'ready') this.#machine.setAdmin(admin, 'kept across reload');
      for (const p of this.#pools.values()) p.setIdleAllowed(this.state !== 'DOWN' && this.state !== 'MAINT', 'health settings reloaded');
      this.#checker = this.#newChecker(farm);
      this.#checker?.start();
    }
    const timeouts = { connectTimeoutMs: farm.timeouts.connect, queueTimeoutMs: farm.timeouts.queue };
    this.#budget.max = config.pool.maxConn;
    this.#budget.maxQueue = config.pool.maxQueue ?? 0;
    for (const p of this.#pools.values()) p.updateLimits(this.#poolConfig(this.#learned.has(p)), timeouts);
  }

  pools(): ServerPool[] {
    return [...this.#pools.values()];
  }

  /**
   * One failed attempt on live traffic: counted, and observed (passive health) unless it is not
   * the server's fault. `reused`: the attempt rode a reused connection (a failure there before
   * any response byte is the idle-close race, never counted against the server).
   */
  countError(code: string, reused = false): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
    const observed = isObservedError(this.farm.health.observe, { code, reused });
    if (observed !== null) this.#machine.observe(observed, code);
  }

  /** A failed attempt on this server is retried (forwarder): counted by cause. */
  countRetry(code: string, kind: 'counted' | 'stale'): void {
    (this.counters.retryCauses[code] ??= { counted: 0, stale: 0 })[kind]++;
  }

  /** One response on live traffic: counted, and observed (5xx with `observe: layer7`). */
  countResponse(status: number): void {
    const k = `${Math.floor(status / 100)}xx`;
    this.counters.responses[k] = (this.counters.responses[k] ?? 0) + 1;
    const observed = isObservedError(this.farm.health.observe, { status });
    if (observed !== null) this.#machine.observe(observed, `status ${status}`);
  }

  /** Admin: `ready` clears DRAIN/MAINT set by an admin (a 404 soft stop stays until the check clears it). */
  setAdminState(admin: AdminState, reason: string): void {
    this.#machine.setAdmin(admin, reason);
  }

  /** Admin: runtime weight, 0–256 (the caller validated it). */
  setWeight(weight: number, reason: string): void {
    if (weight === this.#weight) return;
    this.log.warn({ from: this.#weight, to: weight, reason }, 'server weight changed'); // `server` is a binding of this.log
    this.#weight = weight;
  }

  /**
   * The one place that acts on a state change (Envoy-style: every transition logged with its
   * reason). DOWN and MAINT close idle connections and keep none (connections of in-flight
   * exchanges close when they finish), the check connection too for MAINT (the operator is
   * working on the server); in-flight exchanges finish in every state.
   */
  #onStateChange(c: StateChange): void {
    this.log.warn({ from: c.from, to: c.to, reason: c.reason }, 'server state changed'); // `farm`, `server`: bindings of this.log
    const idleAllowed = c.to !== 'DOWN' && c.to !== 'MAINT';
    for (const p of this.#pools.values()) p.setIdleAllowed(idleAllowed, `server ${c.to}`);
    if (c.to === 'MAINT') this.#checker?.closeConnection('server in MAINT');
    if (c.from === 'MAINT') this.#checker?.checkNow();
    else this.#checker?.reschedule();
  }

  close(): Promise<void> {
    return Promise.all([...[...this.#pools.values()].map((p) => p.close()), this.#checker?.stop()]).then(() => {});
  }

  snapshot(): ServerSnapshot {
    const { host, port } = this.config.address;
    const { state, admin, ...health } = this.#machine.snapshot();
    return {
      name: this.name,
      address: `${host}:${port}`,
      state,
      admin,
      backup: this.config.backup,
      weight: this.weight,
      active: this.active,
      health: this.farm.health.enabled ? { ...health, checks: this.#checker ? structuredClone(this.#checker.stats) : null } : null,
      pools: this.pools().map((p) => p.snapshot()),
      hostPoolsEvicted: this.hostPoolsEvicted,
      counters: structuredClone(this.counters),
    };
  }
}
