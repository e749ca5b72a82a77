/**
 * The resolved, validated configuration. Durations are milliseconds, sizes bytes.
 * Every field is filled (defaults applied) and the whole object is deeply frozen.
 * Documentation of each key and its default lives in README.md ("Configuration reference").
 */
import type { ClientAccess, ListenerTlsPolicy } from '../core/client-access-policy.js';
import type { ForwardedPolicy } from '../core/forwarded-policy.js';

export type Engine = 'uws' | 'node';
export type Balance = 'roundrobin' | 'leastconn' | 'first';
export type HttpReuse = 'never' | 'safe' | 'aggressive' | 'always';

export interface HostPort { host: string; port: number }

export interface ListenerConfig {
  name: string;
  bind: HostPort;
  engine: Engine;
  tls: { cert: string; key: string; sniCerts: SniCertConfig[] } & Partial<ListenerTlsPolicy>;
  /** `allow`, `max-conn` (issue 13 item 3); absent (hand-built configs): DEFAULT_CLIENT_ACCESS. */
  access?: ClientAccess;
  farm: string;
  timeouts: { client: number; httpRequest: number; httpKeepAlive: number };
  /** `min-upload-rate` (bytes/s) over each timeouts.http-request window of a request body; absent: 1 KiB/s. 0: at least one byte per window. */
  minUploadRate?: number;
  /** `forwarded-for`; absent: replace (src/core/forwarded-policy.ts). */
  forwardedFor?: ForwardedPolicy;
}

/** A certificate served to clients whose SNI matches `names` (exact, or `*.x` = one label). */
export interface SniCertConfig {
  cert: string;
  key: string;
  /** Lowercased; null: the certificate's DNS subjectAltNames. */
  names: string[] | null;
}

export interface PoolConfig {
  maxConn: number;
  maxIdle: number; // default: maxConn
  minIdle: number;
  idleTimeout: number;
  provenWindow: number;
  maxReuse: number; // 0 = unlimited
  maxAge: number; // 0 = unlimited
  /** Every this often, half of the idle connections above recent demand are closed. */
  purgeInterval: number;
  /** All busy, max-conn not reached: `open` always opens; `adaptive` waits when a busy connection should free sooner than a new one could be set up. */
  burst: 'adaptive' | 'open';
  /** Waiters per server, every pool key (HAProxy `maxqueue`); 0 or absent = unlimited. */
  maxQueue?: number;
}

export interface HealthConfig {
  enabled: boolean; // true when `health` is present in the file
  path: string;
  method: string;
  expectStatus: number;
  inter: number;
  fastinter: number;
  downinter: number;
  rise: number;
  fall: number;
  disableOn404: boolean;
  /** Whole check (connect when needed + request + response); default `inter`. */
  timeout: number;
  /** Passive health (HAProxy `observe`): which live-traffic outcomes count as errors. */
  observe: 'none' | 'layer4' | 'layer7';
  /** Consecutive observed errors that take an UP server DOWN (HAProxy `error-limit`). */
  errorLimit: number;
}

export interface FarmTlsConfig {
  ca: string | null; // null: the system's CAs
  /**
   * `{kind:'fixed', name}` | `{kind:'host'}` (the request's Host) | `{kind:'none'}` |
   * `{kind:'address'}` (default when `sni` is absent: each server's address host name, or no SNI
   * when that host is an IP address).
   */
  sni: { kind: 'fixed'; name: string } | { kind: 'host' } | { kind: 'none' } | { kind: 'address' };
  verify: boolean;
  cert: string | null; // client certificate toward the farm
  key: string | null;
  /** `tls.min-version` (default TLSv1.2) and `tls.ciphers` (default: Node's own list) toward the farm; absent in hand-built configs. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string | null;
  /** `sni: host`: pools per server for names learned from traffic (LRU); absent = 64. */
  maxHostPools?: number;
  /** `sni: host`: names (`*.domain` = one label) that may be sent; others get 421. null/absent: any. */
  sniAllow?: string[] | null;
  /** `sni: host`: learned names' pools warm min-idle too (absent = false). */
  warmHostPools?: boolean;
}

export interface ServerConfig {
  name: string;
  address: HostPort;
  weight: number;
  backup: boolean;
  pool: PoolConfig; // farm pool merged with the per-server override
}

export interface FarmConfig {
  name: string;
  balance: Balance;
  httpReuse: HttpReuse;
  /** Every backend connection is private to the client connection that used it (per-client identity). */
  private: boolean;
  retries: number;
  redispatch: boolean;
  /** `request-id-check` (exchange.ts): refuse a response echoing another request's X-Request-Id. */
  requestIdCheck: boolean;
  retryOn: string[]; // 'conn-failure' | 'empty-response' | 'junk-response' | 'response-timeout' | '503' ...
  replayBuffer: number;
  /** `request-buffer`: body bytes received before a backend connection is leased; absent: 64 KiB. */
  requestBuffer?: number;
  timeouts: { connect: number; server: number; queue: number };
  tls: FarmTlsConfig;
  pool: PoolConfig;
  health: HealthConfig;
  servers: ServerConfig[];
  /**
   * `host-header` (issue 13 item 1): the Host sent to the servers. Absent = the default,
   * `{kind:'sni'}` (src/proxy/host-header.ts says what each kind does with each `tls.sni`).
   */
  hostHeader?: HostHeaderRule;
  /** `request-headers` / `response-headers`: applied after hop-by-hop handling (header-rules.ts). */
  requestHeaders?: HeaderRules;
  responseHeaders?: HeaderRules;
  /** `discover` (issue 13 item 2): servers found through DNS, next to `servers`; absent: none. */
  discover?: DiscoverConfig | null;
}

export type HostHeaderRule = { kind: 'keep' } | { kind: 'sni' } | { kind: 'literal'; value: string };

/** Validated header rules; names lowercased in `remove`, as written in `set` / `add`. */
export interface HeaderRules {
  set: ReadonlyArray<readonly [string, string]>;
  add: ReadonlyArray<readonly [string, string]>;
  remove: readonly string[];
}

export interface DiscoverConfig {
  /** The DNS name: for SRV the full `_service._proto.name`. */
  name: string;
  /** Port of A / AAAA servers; SRV records carry their own (this one is then ignored). */
  port: number;
  type: 'A' | 'AAAA' | 'SRV';
  /** Re-resolve every this often (ms). */
  every: number;
  /** At most this many discovered servers (HAProxy server-template's count). */
  maxServers: number;
  /** DNS servers (`ip:port`); null: the system's (resolv.conf). */
  resolvers: string[] | null;
  /** One DNS query's timeout (ms); c-ares tries each resolver twice. */
  timeout: number;
  /** Weight and pool of every discovered server (SRV: the weight comes from the record). */
  weight: number;
  pool: PoolConfig;
}

export interface AdminConfig { bind: HostPort; tokenFile: string | null; /** Extra names accepted in Host (DNS rebinding guard). */ hosts?: readonly string[] }

export interface LogConfig { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'; access: boolean; /** `stdout` (default), `stderr` or `file:<absolute path>`. */ destination?: string }

export interface GatewayConfig {
  listeners: ListenerConfig[];
  admin: AdminConfig | null;
  log: LogConfig;
  farms: FarmConfig[];
  /** SIGTERM: how long in-flight requests may take to finish before connections are cut (ms). */
  shutdownGrace: number;
  /**
   * `state-file` (HAProxy's server-state-file): admin weights and states saved here and read at
   * start (src/main/state-file.ts). Absent (tests, demo): none.
   */
  stateFile?: string | null;
}

/** One validation problem: `path` is the YAML key path, e.g. `farms[0].pool.max-conn`. */
export interface ConfigIssue { path: string; message: string }
