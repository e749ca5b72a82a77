import { performance } from 'node:perf_hooks';
import { Farm } from '../balancer/farm.js';
import type { ConfigIssue, GatewayConfig } from '../config/config-types.js';
import { loadConfigFile } from '../config/load-config.js';
import type { Logger } from '../core/logger.js';
import { Forwarder } from '../proxy/forwarder.js';
import { startFrontListener, type FrontListener } from '../front/front-listener.js';
import { startAdminServer, type AdminServer } from '../admin/admin-server.js';
import { certReport, certWarnings, loadGatewayCerts, reloadListenerCerts, type GatewayCerts } from './gateway-certs.js';
import { preflight } from './preflight.js';
import { applyServerState, serverState, writeServerState } from './state-file.js';
import { restartOnlyChanges } from './restart-only-changes.js';
import type { HandoverSocket, InheritedSockets } from './listener-handover.js';

/** What a reload did: `ok: false` = the new config was rejected (issues) and the old one runs on. */
export interface ReloadResult {
  ok: boolean;
  issues: ConfigIssue[];
  /** Changes that were NOT applied because they need a restart (listeners, admin). */
  warnings: string[];
}

/**
 * A running gateway: farms (servers and pools), the forwarder, the client listeners and the
 * admin listener, built from one validated config; `reload` applies a new one to the farms
 * while traffic flows, `stop` drains and closes.
 */
export class Gateway {
  readonly farms = new Map<string, Farm>();
  readonly listeners: FrontListener[] = [];
  admin: AdminServer | null = null;
  readonly startedAt = Date.now();
  readonly #forwarder: Forwarder;
  #config: GatewayConfig;
  #stopping: Promise<void> | null = null;

  private constructor(
    config: GatewayConfig,
    private readonly log: Logger,
    private certs: GatewayCerts,
  ) {
    this.#config = config;
    this.#forwarder = new Forwarder(this.farms, log, config.log.access);
  }

  /** The config in force (the last one a reload accepted). */
  get config(): GatewayConfig {
    return this.#config;
  }

  /**
   * `reusePort`: `run --reuse-port` (SO_REUSEPORT on the client listeners; handover, issue 12 item 9).
   * `inherited`: listening sockets passed by the previous process (listener-handover.ts): a
   * listener (and the admin listener) whose address the old process had bound listens on that
   * socket instead of binding; the admin one starts last, once the client listeners accept, so
   * its /ready never answers 503 for a moment while the old process would answer 200.
   */
  static async start(config: GatewayConfig, log: Logger, options: { reusePort?: boolean; inherited?: InheritedSockets | null } = {}): Promise<Gateway> {
    // Before anything listens or connects: a missing file or a key that is not its
    // certificate's stops the start with a CertificateError naming the key path and both files.
    const gw = new Gateway(config, log, loadGatewayCerts(config));
    for (const w of certWarnings(gw.certs)) log.warn(w);
    for (const f of config.farms) gw.farms.set(f.name, new Farm(f, log.child({ farm: f.name })));
    if (config.stateFile) gw.#keepState(config.stateFile);
    // Farms first: the listeners open once each farm has a warm connection (or its first
    // attempt failed, or its connect timeout passed), so the first client request rides a warm
    // connection — one RTT — instead of paying TCP + TLS to the farm (issue 5's cold start; Envoy
    // likewise starts listeners only after its clusters have initialised).
    for (const farm of gw.farms.values()) farm.warm();
    const inherited = options.inherited ?? null;
    const adminFd = config.admin ? inherited?.take('admin', 'admin', config.admin.bind.host, config.admin.bind.port) : undefined;
    try {
      if (config.admin && adminFd === undefined && options.reusePort) gw.#adminWhenFree(config.admin);
      else if (config.admin && adminFd === undefined) gw.admin = await startAdminServer(config.admin, gw, log.child({ component: 'admin' }));
      await gw.#awaitWarmFarms();
      for (const l of config.listeners) {
        const fd = l.engine === 'node' ? inherited?.take('listener', l.name, l.bind.host, l.bind.port) : undefined;
        gw.listeners.push(await startFrontListener(l, gw.#forwarder.handle, log.child({ listener: l.name }), gw.certs.listeners[gw.listeners.length], options.reusePort ?? false, fd));
        gw.#bound.push({ name: l.name, host: l.bind.host, engine: l.engine });
      }
      if (config.admin && adminFd !== undefined) gw.admin = await startAdminServer(config.admin, gw, log.child({ component: 'admin' }), adminFd);
      if (config.admin) gw.#adminHost = config.admin.bind.host;
    } catch (err) {
      await gw.stop();
      throw err;
    }
    for (const l of gw.listeners) log.info({ listener: l.name, port: l.port }, 'listening');
    return gw;
  }

  /**
   * `--reuse-port` handover: the admin listener (node:http, no SO_REUSEPORT on Node 20) belongs to
   * the old process until it exits; this one takes the address as soon as it is free.
   */
  #adminWhenFree(cfg: NonNullable<GatewayConfig['admin']>): void {
    const alog = this.log.child({ component: 'admin' });
    let warned = false;
    const attempt = (): void => {
      if (this.#stopping) return;
      startAdminServer(cfg, this, alog).then(
        (admin) => {
          if (this.#stopping) void admin.close();
          else this.admin = admin;
        },
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EADDRINUSE') return alog.error({ err: err.message }, 'admin listener could not start');
          if (!warned) alog.warn({ admin: `${cfg.bind.host}:${cfg.bind.port}` }, 'admin address in use (the previous process during a --reuse-port handover?): retrying every 250 ms');
          warned = true;
          setTimeout(attempt, 250).unref();
        },
      );
    };
    attempt();
  }

  /** The configured host of each client listener as started (a reload never rebinds), and of the admin listener. */
  readonly #bound: Array<{ name: string; host: string; engine: string }> = [];
  #adminHost = '';

  /** The listening sockets a handover passes to the next process (listener-handover.ts); `fd: null` where the engine exposes none (uws). */
  handoverSockets(): Array<HandoverSocket | { kind: 'listener'; name: string; fd: null; engine: string }> {
    const out: Array<HandoverSocket | { kind: 'listener'; name: string; fd: null; engine: string }> = [];
    this.listeners.forEach((l, i) => {
      const b = this.#bound[i]!;
      const fd = l.listenFd();
      out.push(fd === null ? { kind: 'listener', name: l.name, fd: null, engine: b.engine } : { kind: 'listener', name: l.name, host: b.host, port: l.port, fd });
    });
    const afd = this.admin?.listenFd() ?? null;
    if (this.admin && afd !== null) out.push({ kind: 'admin', name: 'admin', host: this.#adminHost, port: this.admin.port, fd: afd });
    return out;
  }

  /** Handover: stop accepting on the admin listener now; the new process's admin answers. */
  async closeAdmin(): Promise<void> {
    const a = this.admin;
    this.admin = null;
    await a?.close();
  }

  /** `state-file`: apply the saved state now, then save on every change (polled each second) and at stop. */
  #keepState(file: string): void {
    applyServerState(file, this.farms, this.log);
    let last = JSON.stringify(serverState(this.farms.values()));
    const save = (): void => {
      const now = serverState(this.farms.values());
      const text = JSON.stringify(now);
      if (text === last) return;
      try {
        writeServerState(file, now);
        last = text;
      } catch (err) {
        this.log.error({ state_file: file, err: (err as Error).message }, 'could not write the state-file');
      }
    };
    const timer = setInterval(save, 1000);
    timer.unref();
    this.#saveState = () => {
      clearInterval(timer);
      last = '';
      save();
    };
  }

  #saveState: (() => void) | null = null;

  /** Waits (bounded by each farm's connect timeout) for every farm's first warm connection. */
  async #awaitWarmFarms(): Promise<void> {
    const started = performance.now();
    await Promise.all(
      [...this.farms.values()].map(async (farm) => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), farm.config.timeouts.connect)));
        const outcome = await Promise.race([farm.warmed(), deadline]);
        clearTimeout(timer);
        if (outcome === 'warm') this.log.debug({ farm: farm.name, ms: Math.round(performance.now() - started) }, 'farm warm');
        else if (outcome === 'timeout') this.log.warn({ farm: farm.name, timeout_ms: farm.config.timeouts.connect }, 'no warm connection to the farm within its connect timeout: listening anyway');
        else if (outcome === 'failed') this.log.warn({ farm: farm.name }, 'could not open a warm connection to the farm: listening anyway');
      }),
    );
  }

  /** Latency histograms for the admin's /metrics (hook for issue 12 item 3). */
  get exchangeTimings() {
    return this.#forwarder.timings;
  }

  /** True once stop() began (the admin's /ready answers 503). */
  get stopping(): boolean {
    return this.#stopping !== null;
  }

  /** The /stats document. */
  stats(): unknown {
    return {
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      listeners: this.listeners.map((l) => ({ name: l.name, port: l.port, ...l.stats() })),
      farms: [...this.farms.values()].map((f) => ({ name: f.name, servers: f.servers.map((s) => s.snapshot()), discovery: f.discoverySnapshot() })),
      certificates: certReport(this.certs),
      certificate_warnings: certWarnings(this.certs),
    };
  }

  /** Load, validate and apply a config file (SIGHUP, admin). A bad file changes nothing. */
  reloadFromFile(file: string): ReloadResult {
    const loaded = loadConfigFile(file);
    // The same preflight as `run` and `check` (certificates, keys, CA bundles, token file): a
    // junk CA in a reloaded file must not replace a working farm's TLS.
    const pre = loaded.ok ? preflight(loaded.config) : [];
    const r = loaded.ok && pre.length > 0 ? { ok: false as const, issues: pre } : loaded;
    if (!r.ok) {
      this.log.error({ file, issues: r.issues }, `reload rejected: ${r.issues.length} error(s) in the new configuration; the running one stays`);
      for (const i of r.issues) this.log.error({ path: i.path }, `reload: ${i.path}: ${i.message}`);
      return { ok: false, issues: r.issues, warnings: [] };
    }
    return this.reload(r.config);
  }

  /**
   * Re-reads every listener certificate (SIGHUP). All or nothing: on any error (logged and
   * rethrown) every listener keeps what it serves. Open client connections are not touched.
   * Farm client certificates are not reloaded (their pools would have to be rebuilt).
   */
  reloadCertificates(): void {
    let next: GatewayCerts;
    try {
      next = reloadListenerCerts(this.config, this.certs, this.listeners.map((l) => l.name));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'certificate reload failed; still serving the previous certificates');
      throw err;
    }
    this.listeners.forEach((l, i) => l.reloadCertificates(next.listeners[i]!));
    this.certs = next;
    this.log.info({ certificates: certReport(next).map((c) => `${String(c.where)}: ${String(c.cert)} (${String(c.fingerprint256).slice(0, 11)}…)`) }, 'certificates reloaded');
    for (const w of certWarnings(next)) this.log.warn(w);
  }

  /**
   * Apply a validated config to the running gateway, synchronously (no request can observe a
   * half-applied state):
   *  - farms: one with unchanged TLS is reconfigured in place (kept servers keep their pools and
   *    get the new limits live, removed ones drain and close, new ones start warm — Farm.
   *    reconfigure); one whose TLS changed is replaced by a new Farm and the old one drains;
   *    removed farms drain; new farms start warm. The forwarder looks farms up by name per
   *    attempt, so the next request (and the next retry of a running one) sees the result;
   *  - log.access and shutdown-grace apply at once;
   *  - listeners and admin are kept as they are: a change there is reported as needing a restart.
   */
  reload(config: GatewayConfig): ReloadResult {
    if (this.#stopping) return { ok: false, issues: [{ path: '', message: 'the gateway is stopping' }], warnings: [] };
    const warnings = restartOnlyChanges(this.#config, config);
    for (const w of warnings) this.log.warn(`reload: ${w}`);
    const wanted = new Set(config.farms.map((f) => f.name));
    for (const [name, farm] of this.farms) {
      if (wanted.has(name)) continue;
      this.farms.delete(name);
      for (const s of farm.servers) s.setAdminState('drain', 'farm removed from the configuration');
      void farm.close();
      this.log.info({ farm: name }, 'reload: farm removed; draining');
    }
    for (const fc of config.farms) {
      const old = this.farms.get(fc.name);
      const flog = this.log.child({ farm: fc.name });
      if (old?.canReconfigure(fc)) {
        const r = old.reconfigure(fc);
        flog.info(r, 'reload: farm reconfigured');
        continue;
      }
      const farm = new Farm(fc, flog);
      this.farms.set(fc.name, farm);
      farm.warm();
      if (old) {
        for (const s of old.servers) s.setAdminState('drain', 'farm TLS settings changed');
        void old.close();
        flog.info('reload: farm TLS settings changed: new servers and pools; the old ones drain');
      } else {
        flog.info('reload: farm added');
      }
    }
    this.#forwarder.accessLog = config.log.access;
    this.#config = config;
    return { ok: true, issues: [], warnings };
  }

  /**
   * Graceful stop: listeners stop accepting at once and close idle client connections; requests
   * in flight finish (their responses carry `Connection: close` and their connections close
   * after them) for up to `graceMs` (config `shutdown-grace`), then what is left is cut. Backend
   * pools close after that with close_notify + FIN.
   */
  stop(graceMs = this.#config.shutdownGrace): Promise<void> {
    this.#stopping ??= (async () => {
      // Invariant: the stop sequence holds a ref'd handle until it ends. What it waits for —
      // idle backend sockets (undici unrefs an idle Client's socket), the close_notify grace
      // timers, the pools' close polls — is unref'd, so a server slow to answer our FIN let the
      // event loop run empty mid-stop and node exited 0 by itself: no "stopped" line, pid file
      // left behind (issue 12 item 2; test/regression/stop-outlives-unref-handles.test.ts).
      const hold = setInterval(() => {}, 60_000);
      try {
        await Promise.all(this.listeners.map((l) => l.close(graceMs)));
        this.#saveState?.();
        const closed = Promise.all([...this.farms.values()].map((f) => f.close()));
        let bound: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise((r) => (bound = setTimeout(r, 5000)))]);
        clearTimeout(bound);
        await this.admin?.close();
      } finally {
        clearInterval(hold);
      }
    })();
    return this.#stopping;
  }
}
