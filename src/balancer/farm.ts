import type { WarmOutcome } from '../pool/warm-up.js';
import type { FarmConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { createFarmTls, farmTlsFingerprint, type FarmTls } from '../tls/farm-tls.js';
import { TlsSessionCache } from '../tls/tls-session-cache.js';
import { createBalancePolicy, type BalancePolicy } from './balance-policy.js';
import { BackendServer } from './backend-server.js';

/**
 * A farm: its servers, its TLS settings (one SecureContext, one session cache) and the choice of
 * server for a request. Backup servers are candidates only when no primary is usable (design,
 * background 004); `exclude` lets a retry redispatch to another server, falling back to the
 * excluded ones when nothing else is left.
 */
export class Farm {
  servers: BackendServer[];
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
    this.servers = config.servers.map((s) => this.#newServer(s));
    this.#policy = createBalancePolicy(config.balance);
    this.#backupPolicy = createBalancePolicy(config.balance);
  }

  #newServer(s: FarmConfig['servers'][number]): BackendServer {
    return new BackendServer(s, this.config, this.tls, this.sessions, this.log.child({ server: s.name }) /* the farm's logger already binds `farm` (gateway.ts): binding it again printed it twice */);
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
    const unmatched = new Set(this.servers);
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
    this.servers = next;
    for (const s of unmatched) {
      s.setAdminState('drain', 'removed from the configuration');
      out.removed.push(s.name);
      void s.close();
    }
    for (const s of fresh) s.start();
    return out;
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
    for (const s of this.servers) s.start();
  }

  /**
   * `warm` as soon as some server has a warm connection; otherwise, once every server is settled,
   * `failed` if any server's first attempt failed, else `none` (nothing to warm). Never rejects.
   */
  warmed(): Promise<WarmOutcome> {
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
    return Promise.all(this.servers.map((s) => s.close())).then(() => {});
  }
}
