import { Resolver } from 'node:dns/promises';
import type { DiscoverConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';

/** One server DNS returned. */
export interface DiscoveredServer {
  host: string;
  port: number;
  /** SRV: the record's weight scaled to 1–256 against the answer's largest; else the configured weight. */
  weight: number;
  /** SRV: a record of a higher (less preferred) priority than the answer's lowest is a backup. */
  backup: boolean;
}

export interface DiscoverySnapshot {
  name: string;
  type: DiscoverConfig['type'];
  /** Configured DNS servers, or those of resolv.conf. */
  resolvers: string[];
  /** The addresses the farm uses now (the last good answer, capped at max-servers). */
  addresses: string[];
  lastSuccess: { at: string; addresses: number; ttl: number | null } | null;
  lastError: { at: string; code: 'LH_DNS_FAILED' | 'LH_DNS_EMPTY'; dns: string; message: string } | null;
  resolutions: number;
  failures: number;
}

/** `host:port`, `[v6]:port`: a discovered server's key and name (the port always shown). */
export function addressKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** NXDOMAIN / NODATA: DNS answered, with nothing of this type. Everything else: the query failed. */
const EMPTY_CODES = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * DNS discovery of a farm's servers (issue 13 item 2; HAProxy `server-template` + `resolvers`):
 * resolves `name` through a node:dns `Resolver` (c-ares; resolv.conf's servers unless `resolvers`
 * are configured) on start and then every `every`, one query at a time (the next is scheduled
 * after the previous settles; the timer is unref'ed).
 *
 * Invariant: the farm is never emptied by DNS. A failed query, a timeout, NXDOMAIN or an empty
 * answer keeps the last good answer (logged once per change of error, counted, shown in
 * snapshot().lastError); only a non-empty answer replaces it. Record TTLs do not expire servers
 * either: the cadence is `every` (the TTL is reported, not obeyed), as HAProxy's `hold valid`.
 *
 * `onAnswer` receives each good answer (deduplicated, sorted, capped at max-servers keeping
 * addresses already in use first) and reconciles the farm (Farm.#applyDiscovered).
 */
export class DnsDiscovery {
  readonly #config: DiscoverConfig;
  readonly #log: Logger;
  readonly #onAnswer: (servers: DiscoveredServer[]) => void;
  readonly #resolver: Resolver;
  #timer: NodeJS.Timeout | null = null;
  #stopped = true;
  #current: DiscoveredServer[] = [];
  /** The DNS error code of the failure streak under way (logged once per streak and code). */
  #failing: string | null = null;
  #snap: Omit<DiscoverySnapshot, 'addresses'>;
  #first: Promise<void>;
  #firstDone!: () => void;

  constructor(config: DiscoverConfig, log: Logger, onAnswer: (servers: DiscoveredServer[]) => void) {
    this.#config = config;
    this.#log = log;
    this.#onAnswer = onAnswer;
    this.#resolver = new Resolver({ timeout: config.timeout, tries: 2 });
    if (config.resolvers) this.#resolver.setServers(config.resolvers);
    this.#snap = { name: config.name, type: config.type, resolvers: this.#resolver.getServers(), lastSuccess: null, lastError: null, resolutions: 0, failures: 0 };
    this.#first = new Promise((r) => (this.#firstDone = r));
  }

  get config(): DiscoverConfig {
    return this.#config;
  }

  /** The last good answer (capped), as handed to onAnswer. */
  get current(): readonly DiscoveredServer[] {
    return this.#current;
  }

  /** First query now, then every `every`. Idempotent. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#tick();
  }

  /** Settles after the first query (answered or not). */
  firstAttempt(): Promise<void> {
    return this.#first;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#resolver.cancel();
    this.#firstDone();
  }

  snapshot(): DiscoverySnapshot {
    return { ...structuredClone(this.#snap), addresses: this.#current.map((s) => addressKey(s.host, s.port)) };
  }

  async #tick(): Promise<void> {
    try {
      await this.resolveOnce();
    } finally {
      this.#firstDone();
      if (!this.#stopped) {
        this.#timer = setTimeout(() => void this.#tick(), this.#config.every);
        this.#timer.unref();
      }
    }
  }

  /** One query; never rejects. Exposed for tests and for an admin "resolve now". */
  async resolveOnce(): Promise<void> {
    let answer: { servers: DiscoveredServer[]; ttl: number | null };
    try {
      answer = await this.#query();
      if (answer.servers.length === 0) throw Object.assign(new Error(`no usable ${this.#config.type} records for ${this.#config.name}`), { code: 'ENODATA' });
    } catch (err) {
      if (this.#stopped) return;
      const dns = String((err as { code?: unknown }).code ?? 'UNKNOWN');
      const code = EMPTY_CODES.has(dns) ? 'LH_DNS_EMPTY' : 'LH_DNS_FAILED';
      const changed = this.#failing !== dns;
      this.#failing = dns;
      this.#snap.failures++;
      this.#snap.lastError = { at: new Date().toISOString(), code, dns, message: (err as Error).message };
      if (changed)
        this.#log.warn({ code, dns, name: this.#config.name, kept: this.#current.map((s) => addressKey(s.host, s.port)) }, 'DNS discovery failed: keeping the last good answer');
      return;
    }
    if (this.#stopped) return;
    if (this.#failing !== null) this.#log.info({ name: this.#config.name, after: this.#failing }, 'DNS discovery answers again');
    this.#failing = null;
    this.#snap.resolutions++;
    const servers = this.#cap(answer.servers);
    const before = this.#current.map((s) => addressKey(s.host, s.port)).join(',');
    this.#current = servers;
    this.#snap.lastSuccess = { at: new Date().toISOString(), addresses: answer.servers.length, ttl: answer.ttl };
    if (before !== servers.map((s) => addressKey(s.host, s.port)).join(',') || this.#snap.resolutions === 1) this.#onAnswer(servers);
  }

  /** Dedupe, sort, keep addresses already in use first, then at most max-servers. */
  #cap(found: DiscoveredServer[]): DiscoveredServer[] {
    const key = (s: DiscoveredServer) => addressKey(s.host, s.port);
    const unique = new Map<string, DiscoveredServer>();
    for (const s of found) if (!unique.has(key(s))) unique.set(key(s), s);
    const inUse = new Set(this.#current.map(key));
    const list = [...unique.values()].sort((a, b) => Number(inUse.has(key(b))) - Number(inUse.has(key(a))) || key(a).localeCompare(key(b)));
    if (list.length > this.#config.maxServers)
      this.#log.warn({ name: this.#config.name, found: list.length, max_servers: this.#config.maxServers }, 'DNS discovery: more addresses than max-servers; the rest are ignored');
    return list.slice(0, this.#config.maxServers).sort((a, b) => key(a).localeCompare(key(b)));
  }

  async #query(): Promise<{ servers: DiscoveredServer[]; ttl: number | null }> {
    const c = this.#config;
    if (c.type === 'A' || c.type === 'AAAA') {
      const recs = c.type === 'A' ? await this.#resolver.resolve4(c.name, { ttl: true }) : await this.#resolver.resolve6(c.name, { ttl: true });
      return { servers: recs.map((r) => ({ host: r.address, port: c.port, weight: c.weight, backup: false })), ttl: minTtl(recs) };
    }
    const srv = await this.#resolver.resolveSrv(c.name);
    if (srv.length === 0) return { servers: [], ttl: null };
    const best = Math.min(...srv.map((r) => r.priority));
    const maxWeight = Math.max(1, ...srv.map((r) => r.weight));
    const servers: DiscoveredServer[] = [];
    let ttl: number | null = null;
    // RFC 2782: targets are host names; each is resolved to A records (AAAA when it has none).
    for (const r of srv) {
      if (r.name === '.' || r.name === '') continue; // "service decidedly not available"
      let addrs: Array<{ address: string; ttl: number }>;
      try {
        addrs = await this.#resolver.resolve4(r.name, { ttl: true });
      } catch (err) {
        if (!EMPTY_CODES.has(String((err as { code?: unknown }).code))) throw err;
        addrs = await this.#resolver.resolve6(r.name, { ttl: true }).catch(() => []);
      }
      const t = minTtl(addrs);
      if (t !== null) ttl = ttl === null ? t : Math.min(ttl, t);
      const weight = r.weight === 0 ? 1 : Math.max(1, Math.round((256 * r.weight) / maxWeight));
      for (const a of addrs) servers.push({ host: a.address, port: r.port, weight, backup: r.priority > best });
    }
    return { servers, ttl };
  }
}

function minTtl(recs: Array<{ ttl: number }>): number | null {
  return recs.length === 0 ? null : Math.min(...recs.map((r) => r.ttl));
}
