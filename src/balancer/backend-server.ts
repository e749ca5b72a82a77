import type { FarmConfig, ServerConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { ServerBudget } from '../pool/server-budget.js';
import { ServerPool } from '../pool/server-pool.js';
import type { PoolSnapshot } from '../pool/pool-stats.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';

/** Design "Server states". Only UP servers get new requests. */
export type ServerState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT';

export interface ServerCounters {
  requests: number;
  requestsOnReused: number;
  retries: number;
  responses: Record<string, number>; // by status class: 2xx, 3xx, 4xx, 5xx
  errors: Record<string, number>; // by error code
}

/**
 * One server of a farm: its state, its counters, and its pools (one per pool key; with a fixed
 * SNI there is exactly one). `active` counts in-flight requests (leastconn).
 */
export class BackendServer {
  state: ServerState = 'UP';
  active = 0;
  readonly counters: ServerCounters = { requests: 0, requestsOnReused: 0, retries: 0, responses: {}, errors: {} };
  readonly #pools = new Map<string, ServerPool>();
  /** max-conn is per server, across its pool keys. */
  readonly #budget: ServerBudget;

  constructor(
    public config: ServerConfig,
    private farm: FarmConfig,
    private readonly farmTls: FarmTls,
    private readonly sessions: TlsSessionCache,
    private readonly log: Logger,
  ) {
    this.#budget = new ServerBudget(config.pool.maxConn);
  }

  get name(): string {
    return this.config.name;
  }

  get weight(): number {
    return this.config.weight;
  }

  get usable(): boolean {
    return this.state === 'UP';
  }

  /** SNI this server's connection for a request with this Host header presents. */
  sniFor(hostHeader: string | undefined): string | null {
    return this.farmTls.sniFor(hostHeader, this.config.address.host);
  }

  /** The pool for a given SNI; created on first use (and warmed if min-idle > 0). */
  pool(sni: string | null): ServerPool {
    const { host, port } = this.config.address;
    const key = `${host}:${port}:${sni ?? ''}:${this.farmTls.identity}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new ServerPool({
        key,
        host,
        port,
        sni,
        farmTls: this.farmTls,
        sessions: this.sessions,
        pool: this.config.pool,
        budget: this.#budget,
        connectTimeoutMs: this.farm.timeouts.connect,
        queueTimeoutMs: this.farm.timeouts.queue,
        log: this.log,
      });
      this.#pools.set(key, pool);
      this.#budget.add(pool);
      if (this.config.pool.minIdle > 0) pool.warm();
    }
    return pool;
  }

  /** Warm the pool of the farm's fixed SNI at start (`sni: host` pools warm on first use). */
  warm(): void {
    if (this.farmTls.config.sni.kind !== 'host') this.pool(this.sniFor(undefined));
  }

  /**
   * A reload kept this server (same address, same farm TLS): take the new name, weight, backup
   * flag and pool limits without touching its connections.
   */
  reconfigure(config: ServerConfig, farm: FarmConfig): void {
    this.config = config;
    this.farm = farm;
    const timeouts = { connectTimeoutMs: farm.timeouts.connect, queueTimeoutMs: farm.timeouts.queue };
    this.#budget.max = config.pool.maxConn;
    for (const p of this.#pools.values()) p.updateLimits(config.pool, timeouts);
  }

  pools(): ServerPool[] {
    return [...this.#pools.values()];
  }

  countError(code: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

  countResponse(status: number): void {
    const k = `${Math.floor(status / 100)}xx`;
    this.counters.responses[k] = (this.counters.responses[k] ?? 0) + 1;
  }

  setState(state: ServerState, reason: string): void {
    if (state === this.state) return;
    this.log.warn({ server: this.name, from: this.state, to: state, reason }, 'server state changed');
    this.state = state;
    if (state === 'DOWN' || state === 'MAINT') for (const p of this.#pools.values()) p.closeIdle(`server ${state}`);
  }

  close(): Promise<void> {
    return Promise.all([...this.#pools.values()].map((p) => p.close())).then(() => {});
  }

  snapshot(): { name: string; address: string; state: ServerState; backup: boolean; weight: number; active: number; pools: PoolSnapshot[]; counters: ServerCounters } {
    const { host, port } = this.config.address;
    return {
      name: this.name,
      address: `${host}:${port}`,
      state: this.state,
      backup: this.config.backup,
      weight: this.weight,
      active: this.active,
      pools: this.pools().map((p) => p.snapshot()),
      counters: structuredClone(this.counters),
    };
  }
}
