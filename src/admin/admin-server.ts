import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export type StatsProvider = () => unknown;

/**
 * The admin listener: plain HTTP, loopback by default (the config decides). `GET /stats` is
 * the JSON described in README ("Stats"). Kept apart from the client listeners so that a
 * saturated front never hides the numbers an operator needs.
 */
export function startAdminServer(cfg: AdminConfig, stats: StatsProvider, log: Logger): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'GET' && url.pathname === '/stats') {
      const body = JSON.stringify(stats(), null, url.searchParams.has('compact') ? 0 : 2);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body + '\n');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try GET /stats\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.bind.port, cfg.bind.host, () => {
      const port = (server.address() as AddressInfo).port;
      log.info({ admin: `${cfg.bind.host}:${port}` }, 'admin listening');
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
