import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { AdminAuth } from './admin-auth.js';
import { AdminError, findServer, listServers, sendJson, serverView, updateServer, type AdminTarget } from './admin-routes.js';

export type { AdminTarget };

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The admin listener: plain HTTP, loopback by default (the config decides). Kept apart from the
 * client listeners so that a saturated front never hides the numbers an operator needs.
 *
 *   GET  /health                       200 ok (never needs the token: for process supervisors)
 *   GET  /stats                        the JSON described in README ("Stats")
 *   GET  /servers                      every farm's servers: state, admin state, weight, checks
 *   GET  /servers/{farm}/{server}      one server
 *   POST /servers/{farm}/{server}      {"state": "ready|drain|maint"} and/or {"weight": 0-256}
 *
 * With `admin.token-file`, everything but /health needs `Authorization: Bearer <token>`
 * (401 + `WWW-Authenticate: Bearer`, RFC 6750 §3). Errors are JSON: {"error": code, "message"}.
 */
export async function startAdminServer(cfg: AdminConfig, target: AdminTarget, log: Logger): Promise<AdminServer> {
  const auth = cfg.tokenFile ? AdminAuth.fromFile(cfg.tokenFile) : null;
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof AdminError) return sendJson(res, err.status, { error: err.code, message: err.message });
      log.error({ err }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: (err as Error).message });
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (auth) {
      const verdict = auth.check(req.headers.authorization);
      if (verdict !== 'ok') {
        const challenge = verdict === 'missing' ? 'Bearer realm="longhaul-admin"' : 'Bearer realm="longhaul-admin", error="invalid_token"';
        return sendJson(res, 401, { error: 'unauthorized', message: verdict === 'missing' ? 'this admin listener needs Authorization: Bearer <token> (admin.token-file)' : 'wrong admin token' }, { 'www-authenticate': challenge });
      }
    }
    const pretty = !url.searchParams.has('compact');
    if (path === '/stats') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      return sendJson(res, 200, target.stats(), {}, pretty);
    }
    if (path === '/servers' || path === '/servers/') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      return sendJson(res, 200, listServers(target), {}, pretty);
    }
    const m = /^\/servers\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const [farm, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      if (req.method === 'GET') return sendJson(res, 200, { farm, server: serverView(findServer(target, farm, name).server) }, {}, pretty);
      if (req.method === 'POST') {
        const who = `${req.socket.remoteAddress ?? '?'}`;
        const result = await updateServer(target, farm, name, req, who);
        log.info({ farm, server: name, state: result.server.state, weight: result.server.weight, client: who }, 'admin changed a server');
        return sendJson(res, 200, result, {}, pretty);
      }
      throw methodNotAllowed('GET, POST');
    }
    throw new AdminError(404, 'not_found', `no route ${req.method} ${path}: try GET /servers, GET /stats, POST /servers/{farm}/{server}`);
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.bind.port, cfg.bind.host, () => {
      const port = (server.address() as AddressInfo).port;
      log.info({ admin: `${cfg.bind.host}:${port}`, token: auth !== null }, 'admin listening');
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

function methodNotAllowed(allow: string): AdminError {
  return new AdminError(405, 'method_not_allowed', `allowed: ${allow}`);
}
