import type { FarmConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { createFarmTls, type FarmTls } from '../tls/farm-tls.js';
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
  readonly servers: BackendServer[];
  readonly tls: FarmTls;
  readonly sessions = new TlsSessionCache();
  readonly #policy: BalancePolicy;
  readonly #backupPolicy: BalancePolicy;

  constructor(
    readonly config: FarmConfig,
    log: Logger,
  ) {
    this.tls = createFarmTls(config.tls);
    this.servers = config.servers.map((s) => new BackendServer(s, config, this.tls, this.sessions, log.child({ farm: config.name, server: s.name })));
    this.#policy = createBalancePolicy(config.balance);
    this.#backupPolicy = createBalancePolicy(config.balance);
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

  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => s.close())).then(() => {});
  }
}
