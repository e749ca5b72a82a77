import { performance } from 'node:perf_hooks';
import type { HealthConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { BackendConnection } from '../pool/backend-connection.js';
import { probeExchange } from '../pool/probe-exchange.js';
import { connectTls } from '../tls/connect-tls.js';
import type { FarmTls } from '../tls/farm-tls.js';
import type { TlsSessionCache } from '../tls/tls-session-cache.js';
import type { CheckVerdict } from './server-state.js';

export interface HealthCheckOptions {
  health: HealthConfig;
  host: string;
  port: number;
  /** The SNI of the server's pool, so that the check connection resumes the pool's sessions. */
  sni: string | null;
  /**
   * Host of the check request: the same Host traffic sends (host-header.ts checkHost, issue 13),
   * so a server that rejects a Host ≠ SNI fails checks exactly when it would fail traffic.
   * Absent: the SNI, else the address host.
   */
  hostHeader?: string;
  farmTls: FarmTls;
  sessions: TlsSessionCache;
  connectTimeoutMs: number;
  log: Logger;
  /** Delay before the next check (inter / fastinter / downinter, from the state machine). */
  nextDelay(): number;
  /** False while checks are paused (MAINT): the tick is skipped and the connection closed. */
  active(): boolean;
  onVerdict(v: CheckVerdict): void;
}

export interface HealthCheckStats {
  checks: number;
  ok: number;
  nolb: number;
  failed: number;
  /** TLS handshakes of the check connection (full + resumed): 1 per N checks while it stays open. */
  handshakesFull: number;
  handshakesResumed: number;
  connectFailures: number;
  last: { result: CheckVerdict['result']; status: number | null; reason: string | null; ms: number; at: string } | null;
}

/** Response bodies larger than this are not read: the connection is dropped (a check is small). */
const BODY_LIMIT = 64 * 1024;

/**
 * Active HTTP health checks of one server over ONE keep-alive TLS connection of its own (over a
 * WAN a new connection per check costs a handshake and RTTs every `inter`). The connection is
 * opened like a pool connection (farm SecureContext, farm session cache, the pool's SNI), so it
 * usually resumes; it is reopened when it closes. It never serves client traffic, so a check
 * never waits behind a busy pool and a full pool never hides a dead server.
 *
 * One check at a time: the next one is scheduled after the previous verdict (no overlap even
 * when a check takes longer than `inter`). Timers are unref'ed: checks never keep the process up.
 * A check's timeout (`health.timeout`) covers connect (when needed) + request + response; on
 * timeout the connection is destroyed (its state is unknown).
 */
export class HealthChecker {
  readonly stats: HealthCheckStats = { checks: 0, ok: 0, nolb: 0, failed: 0, handshakesFull: 0, handshakesResumed: 0, connectFailures: 0, last: null };
  readonly #o: HealthCheckOptions;
  #conn: BackendConnection | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** performance.now() at which #timer fires. */
  #dueAt = 0;
  #running = false;
  #stopped = true;
  /** A check was asked for while one was running: run again right after it. */
  #again = false;

  constructor(opts: HealthCheckOptions) {
    this.#o = opts;
  }

  /** First check now, then on the state machine's cadence. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.checkNow();
  }

  /** Run a check at once (start, leaving MAINT), or right after the one under way. */
  checkNow(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    void this.#tick();
  }

  /**
   * The cadence may have changed (e.g. observe took the server DOWN while the next check was
   * `inter` away): bring the pending check forward when the new delay ends sooner.
   */
  reschedule(): void {
    if (this.#stopped || this.#running || !this.#timer) return;
    const delay = this.#o.nextDelay();
    if (performance.now() + delay < this.#dueAt) this.#arm(delay);
  }

  /** Close the check connection (MAINT, server going away); the next check reopens one. */
  closeConnection(reason: string): void {
    const c = this.#conn;
    this.#conn = null;
    c?.retire(reason, 1000);
  }

  /** Stop checking; resolves once the check connection is closed (close_notify + FIN). */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const c = this.#conn;
    this.#conn = null;
    if (!c || c.state === 'closed') return Promise.resolve();
    return new Promise<void>((resolve) => {
      c.socket?.once('close', () => resolve());
      c.retire('health checker stopped', 1000);
      if (c.state === 'closed') resolve();
    });
  }

  async #tick(): Promise<void> {
    this.#running = true;
    try {
      if (!this.#o.active()) {
        this.closeConnection('health checks paused');
      } else {
        const verdict = await this.#checkOnce();
        if (!this.#stopped && this.#o.active()) this.#o.onVerdict(verdict);
      }
    } finally {
      this.#running = false;
    }
    if (this.#stopped) return;
    if (this.#again) {
      this.#again = false;
      return this.checkNow();
    }
    this.#arm(this.#o.nextDelay());
  }

  #arm(delay: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#dueAt = performance.now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, delay);
    this.#timer.unref();
  }

  async #checkOnce(): Promise<CheckVerdict> {
    const o = this.#o;
    const h = o.health;
    const started = performance.now();
    this.stats.checks++;
    let status: number | null = null;
    const done = (v: CheckVerdict): CheckVerdict => {
      this.stats[v.result === 'ok' ? 'ok' : v.result === 'nolb' ? 'nolb' : 'failed']++;
      this.stats.last = { result: v.result, status, reason: v.result === 'fail' ? v.reason : null, ms: Math.round(performance.now() - started), at: new Date().toISOString() };
      if (v.result === 'fail') o.log.debug({ reason: v.reason }, 'health check failed');
      return v;
    };
    let conn: BackendConnection;
    try {
      conn = await this.#connection(Math.min(h.timeout, o.connectTimeoutMs));
    } catch (err) {
      return done({ result: 'fail', reason: (err as Error).message });
    }
    const remaining = Math.max(1, h.timeout - (performance.now() - started));
    const r = await probeExchange(conn, {
      method: h.method,
      path: h.path,
      headers: ['host', o.hostHeader ?? o.sni ?? o.host, 'connection', 'keep-alive', 'user-agent', 'longhaul-health-check'],
      bodyLimit: BODY_LIMIT,
      timeoutMs: remaining,
    });
    status = r.status;
    if (r.error || !r.reusable) {
      // Unknown connection state (timeout, reset, garbage) or the server asked to close: never reuse it.
      if (this.#conn === conn) this.#conn = null;
      if (r.error) conn.transition('closed', `health check: ${r.error.message}`);
      else conn.retire('health check: server asked to close');
      if (status === null) return done({ result: 'fail', reason: r.timedOut ? `health check timed out after ${h.timeout} ms` : (r.error?.message ?? 'no response') });
    }
    if (status === h.expectStatus) return done({ result: 'ok' });
    if (status === 404 && h.disableOn404) return done({ result: 'nolb' });
    return done({ result: 'fail', reason: `health check ${h.method} ${h.path} answered ${status}, expected ${h.expectStatus}` });
  }

  async #connection(timeoutMs: number): Promise<BackendConnection> {
    const c = this.#conn;
    if (c && c.alive) return c;
    this.#conn = null;
    const o = this.#o;
    let r;
    try {
      r = await connectTls({ host: o.host, port: o.port, sni: o.sni, farmTls: o.farmTls, sessions: o.sessions, timeoutMs });
    } catch (err) {
      this.stats.connectFailures++;
      throw err;
    }
    if (r.resumed) this.stats.handshakesResumed++;
    else this.stats.handshakesFull++;
    const conn = new BackendConnection((closed, _from, to) => {
      if (to === 'closed' && this.#conn === closed) this.#conn = null;
    });
    conn.attach(r.socket, { resumed: r.resumed, setupMs: r.setupMs, sni: o.sni });
    conn.transition('idle', 'health check connection');
    if (this.#stopped) {
      conn.retire('health checker stopped', 1000);
      throw new Error('health checker stopped');
    }
    this.#conn = conn;
    return conn;
  }
}
