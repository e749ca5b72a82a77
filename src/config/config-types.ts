/**
 * The resolved, validated configuration. Durations are milliseconds, sizes bytes.
 * Every field is filled (defaults applied) and the whole object is deeply frozen.
 * Documentation of each key and its default lives in README.md ("Configuration reference").
 */
import type { ForwardedPolicy } from '../core/forwarded-policy.js';

export type Engine = 'uws' | 'node';
export type Balance = 'roundrobin' | 'leastconn' | 'first';
export type HttpReuse = 'never' | 'safe' | 'aggressive' | 'always';

export interface HostPort { host: string; port: number }

export interface ListenerConfig {
  name: string;
  bind: HostPort;
  engine: Engine;
  tls: { cert: string; key: string; sniCerts: SniCertConfig[] };
  farm: string;
  timeouts: { client: number; httpRequest: number; httpKeepAlive: number };
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
  retryOn: string[]; // 'conn-failure' | 'empty-response' | 'junk-response' | 'response-timeout' | '503' ...
  replayBuffer: number;
  timeouts: { connect: number; server: number; queue: number };
  tls: FarmTlsConfig;
  pool: PoolConfig;
  health: HealthConfig;
  servers: ServerConfig[];
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
}

/** One validation problem: `path` is the YAML key path, e.g. `farms[0].pool.max-conn`. */
export interface ConfigIssue { path: string; message: string }
