import type { WarmOutcome } from '../pool/warm-up.js';
import type { FarmConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { createFarmTls, farmTlsFingerprint, type FarmTls } from '../tls/farm-tls.js';
import { TlsSessionCache } from '../tls/tls-session-cache.js';
import { createBalancePolicy, type BalancePolicy } from './balance-policy.js';
import { BackendServer } from './backend-server.js';
import { addressKey, DnsDiscovery, type DiscoveredServer, type DiscoverySnapshot } from './dns-discovery.js';

/**
 * A farm: its servers, its TLS settings (one SecureContext, one session cache) and the choice of
 * server for a request. Backup servers are candidates only when no primary is usable (design,
 * background 004); `exclude` lets a retry redispatch to another server, falling back to the
 * excluded ones when nothing else is left.
 *
 * Servers are the fixed ones of `servers` plus, with `discover`, those DNS returns (issue 13
 * item 2; dns-discovery.ts). `servers` is replaced (never mutated) on each change, so a pick
 * under way sees one consistent list. A discovered server is keyed by address: one that stays in
 * the answer keeps its BackendServer (pools, connections, health state); one that leaves goes to
 * DRAIN and closes (in-flight exchanges finish; queued requests get LH_POOL_CLOSED, a free retry
 * elsewhere; connections close with close_notify + FIN); one that appears starts warm. An
 * address that is also a fixed server is the fixed server's.
 */
export class Farm {
  servers: BackendServer[];
  #fixed: BackendServer[];
  readonly #discovered = new Map<string, BackendServer>();
  #discovery: DnsDiscovery | null = null;
  #started = false;
  readonly tls: FarmTls;
  /** farmTlsFingerprint of the TLS config this farm was built with. */
  readonly tlsFingerprint: string;
  readonly sessions = new TlsSessionCache();
  #policy: BalancePolicy;
  #backupPolicy: BalancePolicy;

  constructor(
    public config: FarmConfig,
    private readonly log: Logger,
  ) {
    this.tls = createFarmTls(config.tls);
    this.tlsFingerprint = farmTlsFingerprint(config.tls);
    this.#fixed = config.servers.map((s) => this.#newServer(s));
    this.servers = [...this.#fixed];
    if (config.discover) this.#discovery = this.#newDiscovery(config.discover);
    this.#policy = createBalancePolicy(config.balance);
    this.#backupPolicy = createBalancePolicy(config.balance);
  }

  #newServer(s: FarmConfig['servers'][number]): BackendServer {
    return new BackendServer(s, this.config, this.tls, this.sessions, this.log.child({ server: s.name }) /* the farm's logger already binds `farm` (gateway.ts): binding it again printed it twice */);
  }

  #newDiscovery(d: NonNullable<FarmConfig['discover']>): DnsDiscovery {
    return new DnsDiscovery(d, this.log.child({ farm: this.config.name, discover: d.name }), (found) => this.#applyDiscovered(found));
  }

  /** The ServerConfig of a discovered server: named by its address (unique; fixed names cannot hold ':'). */
  #discoveredConfig(d: DiscoveredServer): FarmConfig['servers'][number] {
    const disc = this.config.discover!;
    return { name: addressKey(d.host, d.port), address: { host: d.host, port: d.port }, weight: d.weight, backup: d.backup, pool: disc.pool };
  }

  /** Reconcile the discovered servers with a good DNS answer (never empty: dns-discovery.ts). */
  #applyDiscovered(found: DiscoveredServer[]): void {
    if (!this.config.discover) return;
    const fixedAddrs = new Set(this.#fixed.map((s) => addressKey(s.config.address.host, s.config.address.port)));
    const wanted = new Map<string, DiscoveredServer>();
    for (const d of found) if (!fixedAddrs.has(addressKey(d.host, d.port))) wanted.set(addressKey(d.host, d.port), d);
    const added: string[] = [];
    const removed: string[] = [];
    const fresh: BackendServer[] = [];
    for (const [key, s] of this.#discovered) {
      if (wanted.has(key)) continue;
      this.#discovered.delete(key);
      removed.push(key);
      s.setAdminState('drain', 'gone from DNS');
      void s.close();
    }
    for (const [key, d] of wanted) {
      const sc = this.#discoveredConfig(d);
      const old = this.#discovered.get(key);
      if (old) {
        if (old.config.weight !== sc.weight || old.config.backup !== sc.backup) old.reconfigure(sc, this.config);
        continue;
      }
      const s = this.#newServer(sc);
      this.#discovered.set(key, s);
      fresh.push(s);
      added.push(key);
    }
    this.servers = [...this.#fixed, ...this.#discovered.values()];
    if (added.length || removed.length) this.log.info({ farm: this.name, discover: this.config.discover.name, added, removed, servers: this.servers.length }, 'DNS discovery changed the servers');
    if (this.#started) for (const s of fresh) s.start();
  }

  /** /stats `discovery`: null without `discover`. */
  discoverySnapshot(): DiscoverySnapshot | null {
    return this.#discovery?.snapshot() ?? null;
  }

  /** The new config can be applied to this farm in place (its TLS is unchanged); else build a new Farm. */
  canReconfigure(config: FarmConfig): boolean {
    return config.name === this.config.name && farmTlsFingerprint(config.tls) === this.tlsFingerprint;
  }

  /**
   * Apply a reloaded config (same TLS: see canReconfigure). Servers are matched by address (same
   * name preferred): a kept server keeps its BackendServer and pools, with the new weight, backup
   * flag and pool limits applied live; a removed one goes to DRAIN and is closed (its pools close
   * as their exchanges end: no in-flight request is lost); a new one is created and warmed.
   * Requests already in their retry loop see the new server list on their next pick.
   */
  reconfigure(config: FarmConfig): { kept: string[]; added: string[]; removed: string[] } {
    const addr = (s: { config: { address: { host: string; port: number } } } | FarmConfig['servers'][number]): string => {
      const a = 'config' in s ? s.config.address : s.address;
      return `${a.host}:${a.port}`;
    };
    const oldBalance = this.config.balance;
    const unmatched = new Set(this.#fixed);
    const next: BackendServer[] = [];
    const out = { kept: [] as string[], added: [] as string[], removed: [] as string[] };
    const fresh: BackendServer[] = [];
    for (const sc of config.servers) {
      const same = [...unmatched].filter((s) => addr(s) === addr(sc));
      const old = same.find((s) => s.name === sc.name) ?? same[0];
      if (old) {
        unmatched.delete(old);
        old.reconfigure(sc, config);
        next.push(old);
        out.kept.push(sc.name);
      } else {
        this.config = config; // #newServer reads the farm config
        const s = this.#newServer(sc);
        next.push(s);
        fresh.push(s);
        out.added.push(sc.name);
      }
    }
    if (config.balance !== oldBalance) {
      this.#policy = createBalancePolicy(config.balance);
      this.#backupPolicy = createBalancePolicy(config.balance);
    }
    this.config = config;
    this.#fixed = next;
    for (const s of unmatched) {
      s.setAdminState('drain', 'removed from the configuration');
      out.removed.push(s.name);
      void s.close();
    }
    this.#reconfigureDiscovery(config, out);
    this.servers = [...this.#fixed, ...this.#discovered.values()];
    for (const s of fresh) s.start();
    return out;
  }

  /**
   * `discover` on reload: unchanged → the discovery keeps running; changed → a new one starts and
   * the discovered servers stay until its first good answer reconciles them (a reload never
   * empties the farm either); removed → every discovered server drains. Kept discovered servers
   * take the new pool limits live.
   */
  #reconfigureDiscovery(config: FarmConfig, out: { removed: string[] }): void {
    const was = this.#discovery;
    const d = config.discover ?? null;
    if (!d) {
      was?.stop();
      this.#discovery = null;
      for (const [key, s] of this.#discovered) {
        s.setAdminState('drain', 'discover removed from the configuration');
        out.removed.push(key);
        void s.close();
      }
      this.#discovered.clear();
      return;
    }
    for (const s of this.#discovered.values()) s.reconfigure({ ...s.config, pool: d.pool, weight: config.discover?.type === 'SRV' ? s.config.weight : d.weight }, config);
    if (was && JSON.stringify(was.config) === JSON.stringify(d)) {
      // The fixed servers may have changed: an address now fixed stops being a discovered one.
      if (was.current.length > 0) this.#applyDiscovered([...was.current]);
      return;
    }
    was?.stop();
    this.#discovery = this.#newDiscovery(d);
    if (this.#started) this.#discovery.start();
  }

  get name(): string {
    return this.config.name;
  }

  pick(exclude: ReadonlySet<BackendServer> = new Set()): BackendServer | null {
    const primaries = this.servers.filter((s) => !s.config.backup && s.usable);
    const backups = this.servers.filter((s) => s.config.backup && s.usable);
    for (const [group, policy] of [
      [primaries, this.#policy],
      [backups, this.#backupPolicy],
    ] as const) {
      const fresh = group.filter((s) => !exclude.has(s));
      if (fresh.length > 0) return policy.pick(fresh);
    }
    // Every usable server was tried already: try again where we can.
    if (primaries.length > 0) return this.#policy.pick(primaries);
    if (backups.length > 0) return this.#backupPolicy.pick(backups);
    return null;
  }

  /** Bring the farm to life: warm every server's pool and start its health checks (idempotent). */
  warm(): void {
    this.#started = true;
    for (const s of this.servers) s.start();
    this.#discovery?.start();
  }

  /**
   * `warm` as soon as some server has a warm connection; otherwise, once every server is settled,
   * `failed` if any server's first attempt failed, else `none` (nothing to warm). Never rejects.
   */
  warmed(): Promise<WarmOutcome> {
    // With discover, the first DNS query comes first (the caller bounds the wait).
    if (this.#discovery) return this.#discovery.firstAttempt().then(() => this.#serversWarmed());
    return this.#serversWarmed();
  }

  #serversWarmed(): Promise<WarmOutcome> {
    return new Promise((resolve) => {
      let pending = this.servers.length;
      let failed = false;
      const settle = (o: WarmOutcome): void => {
        if (o === 'warm') resolve('warm');
        failed ||= o === 'failed';
        if (--pending === 0) resolve(failed ? 'failed' : 'none');
      };
      if (pending === 0) resolve('none');
      for (const s of this.servers) s.warmed().then(settle, () => settle('failed'));
    });
  }

  close(): Promise<void> {
    this.#discovery?.stop();
    return Promise.all(this.servers.map((s) => s.close())).then(() => {});
  }
}
