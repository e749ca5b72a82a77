import { Farm } from '../balancer/farm.js';
import type { GatewayConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { Forwarder } from '../proxy/forwarder.js';
import { startFrontListener, type FrontListener } from '../front/front-listener.js';
import { startAdminServer, type AdminServer } from '../admin/admin-server.js';
import { certReport, certWarnings, loadGatewayCerts, reloadListenerCerts, type GatewayCerts } from './gateway-certs.js';

/**
 * A running gateway: farms (servers and pools), the forwarder, the client listeners and the
 * admin listener, built from one validated config.
 */
export class Gateway {
  readonly farms = new Map<string, Farm>();
  readonly listeners: FrontListener[] = [];
  admin: AdminServer | null = null;
  readonly startedAt = Date.now();

  private constructor(
    readonly config: GatewayConfig,
    private readonly log: Logger,
    private certs: GatewayCerts,
  ) {}

  static async start(config: GatewayConfig, log: Logger): Promise<Gateway> {
    // Before anything listens or connects: a missing file or a key that is not its
    // certificate's stops the start with a CertificateError naming the key path and both files.
    const gw = new Gateway(config, log, loadGatewayCerts(config));
    for (const w of certWarnings(gw.certs)) log.warn(w);
    for (const f of config.farms) gw.farms.set(f.name, new Farm(f, log.child({ farm: f.name })));
    const forwarder = new Forwarder(gw.farms, log, config.log.access);
    try {
      for (const l of config.listeners) {
        gw.listeners.push(await startFrontListener(l, forwarder.handle, log.child({ listener: l.name }), gw.certs.listeners[gw.listeners.length]));
      }
      if (config.admin) gw.admin = await startAdminServer(config.admin, () => gw.stats(), log.child({ component: 'admin' }));
    } catch (err) {
      await gw.stop();
      throw err;
    }
    for (const farm of gw.farms.values()) farm.warm();
    for (const l of gw.listeners) log.info({ listener: l.name, port: l.port }, 'listening');
    return gw;
  }

  /** The /stats document. */
  stats(): unknown {
    return {
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      listeners: this.listeners.map((l) => ({ name: l.name, port: l.port, ...l.stats() })),
      farms: [...this.farms.values()].map((f) => ({ name: f.name, servers: f.servers.map((s) => s.snapshot()) })),
      certificates: certReport(this.certs),
      certificate_warnings: certWarnings(this.certs),
    };
  }

  /**
   * Re-reads every listener certificate (SIGHUP). All or nothing: on any error (logged and
   * rethrown) every listener keeps what it serves. Open client connections are not touched.
   * Farm client certificates are not reloaded (their pools would have to be rebuilt).
   */
  reloadCertificates(): void {
    let next: GatewayCerts;
    try {
      next = reloadListenerCerts(this.config, this.certs);
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
   * Stop accepting, let client listeners finish, then close backend pools with close_notify +
   * FIN and wait (up to `graceMs`) for the connections to be gone.
   */
  async stop(graceMs = 5000): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    await this.admin?.close();
    const closed = Promise.all([...this.farms.values()].map((f) => f.close()));
    await Promise.race([closed, new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}
