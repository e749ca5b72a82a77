import { Farm } from '../balancer/farm.js';
import type { GatewayConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { Forwarder } from '../proxy/forwarder.js';
import { startFrontListener, type FrontListener } from '../front/front-listener.js';
import { startAdminServer, type AdminServer } from '../admin/admin-server.js';

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
  ) {}

  static async start(config: GatewayConfig, log: Logger): Promise<Gateway> {
    const gw = new Gateway(config, log);
    for (const f of config.farms) gw.farms.set(f.name, new Farm(f, log.child({ farm: f.name })));
    const forwarder = new Forwarder(gw.farms, log, config.log.access);
    try {
      for (const l of config.listeners) {
        gw.listeners.push(await startFrontListener(l, forwarder.handle, log.child({ listener: l.name })));
      }
      if (config.admin) gw.admin = await startAdminServer(config.admin, gw, log.child({ component: 'admin' }));
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
    };
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
