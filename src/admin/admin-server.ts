import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/config-types.js';
import type { Logger } from '../core/logger.js';
import { AdminAuth } from './admin-auth.js';
import { AdminGuard } from './admin-guard.js';
import { metricsRegistry } from './admin-metrics.js';
import { readiness } from './admin-readiness.js';
import { AdminError, findServer, listServers, readJson, sendJson, serverView, updateServer, type AdminTarget } from './admin-routes.js';
import { LOGIN_PAGE, STATS_PAGE } from './stats-page.js';

export type { AdminTarget };

export interface AdminServer {
  readonly port: number;
  /** The listening socket's descriptor (handover to the next process, src/main/listener-handover.ts); null once closed. */
  listenFd(): number | null;
  close(): Promise<void>;
}

/** The page may run its own inline script and talk to this origin only; never framed. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
};

/**
 * The admin listener: plain HTTP, loopback by default (the config decides). Kept apart from the
 * client listeners so that a saturated front never hides the numbers an operator needs.
 *
 *   GET  /health                       200 ok: liveness (no token, no Host check)
 *   GET  /ready                        200 / 503 + JSON reasons: readiness (no token, no Host check)
 *   GET  /                             the HTML stats page (stats-page.ts); 303 to /login without credentials
 *   GET  /login, POST /login           the login form; {"token": "…"} → session cookie for the page
 *   GET  /basic                        401 + `WWW-Authenticate: Basic` until the browser's dialog sends the token, then 303 to /
 *   GET  /metrics                      Prometheus text format (admin-metrics.ts)
 *   GET  /stats                        the JSON described in README ("Stats")
 *   GET  /servers                      every farm's servers: state, admin state, weight, checks
 *   GET  /servers/{farm}/{server}      one server
 *   POST /servers/{farm}/{server}      {"state": "ready|drain|maint"} and/or {"weight": 0-256}
 *
 * Every route but /health and /ready needs a Host naming this listener (421 otherwise: DNS
 * rebinding) and every POST `Content-Type: application/json` (415: no cross-site simple form),
 * issue 15 item 5 (admin-guard.ts). With `admin.token-file`, they also need credentials
 * (admin-auth.ts: Bearer, Basic, or the page's cookie); 401 carries `WWW-Authenticate: Bearer`
 * (RFC 6750 §3). The page never challenges with Basic by itself (a cancelled dialog would leave
 * the browser on an error page): the login form links to /basic for those who prefer the dialog. Errors are JSON: {"error", "message"}.
 */
/** `inheritedFd`: a listening socket handed over by the previous process (issue 12 item 9): listened on instead of binding. */
export async function startAdminServer(cfg: AdminConfig, target: AdminTarget, log: Logger, inheritedFd?: number): Promise<AdminServer> {
  const auth = cfg.tokenFile ? AdminAuth.fromFile(cfg.tokenFile) : null;
  const metrics = metricsRegistry(target);
  let port = cfg.bind.port;
  const guard = new AdminGuard(cfg.bind, cfg.hosts ?? [], () => port);
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
    if (req.method === 'GET' && path === '/ready') {
      const r = readiness(target);
      return sendJson(res, r.ready ? 200 : 503, r.ready ? { ready: true, farms: r.farms } : { ready: false, reason: r.reasons.join('; '), reasons: r.reasons, farms: r.farms });
    }
    guard.checkHost(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') AdminGuard.checkJson(req);
    if (path === '/login') {
      if (req.method === 'GET') {
        res.writeHead(200, PAGE_HEADERS);
        res.end(LOGIN_PAGE);
        return;
      }
      if (req.method !== 'POST') throw methodNotAllowed('GET, POST');
      if (!auth) throw new AdminError(404, 'not_found', 'no admin.token-file: nothing to log in to');
      const body = await readJson(req);
      if (typeof body.token !== 'string' || !auth.matches(body.token)) throw new AdminError(401, 'unauthorized', 'wrong admin token');
      res.writeHead(204, { 'set-cookie': auth.sessionCookie(false), 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (auth) {
      const verdict = auth.check(req.headers.authorization, req.headers.cookie);
      if (verdict !== 'ok') {
        if (path === '/' && req.method === 'GET') {
          // A browser without credentials: to the login form (GET /login).
          res.writeHead(303, { location: '/login', 'cache-control': 'no-store' });
          res.end();
          return;
        }
        if (path === '/basic' && req.method === 'GET') {
          // The browser's own dialog (any user, password = the token), linked from the login form.
          res.writeHead(401, { ...PAGE_HEADERS, 'www-authenticate': 'Basic realm="longhaul-admin", charset="UTF-8"' });
          res.end(LOGIN_PAGE);
          return;
        }
        const challenge = verdict === 'missing' ? 'Bearer realm="longhaul-admin"' : 'Bearer realm="longhaul-admin", error="invalid_token"';
        return sendJson(res, 401, { error: 'unauthorized', message: verdict === 'missing' ? 'this admin listener needs Authorization: Bearer <token> (admin.token-file)' : 'wrong admin token' }, { 'www-authenticate': challenge });
      }
    }
    const pretty = !url.searchParams.has('compact');
    if (path === '/basic' && req.method === 'GET') {
      res.writeHead(303, { location: '/', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (path === '/') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      res.writeHead(200, PAGE_HEADERS);
      res.end(STATS_PAGE);
      return;
    }
    if (path === '/metrics') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      const text = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
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
    throw new AdminError(404, 'not_found', `no route ${req.method} ${path}: try GET /, GET /servers, GET /stats, GET /metrics, POST /servers/{farm}/{server}`);
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      port = (server.address() as AddressInfo).port;
      log.info({ admin: `${cfg.bind.host}:${port}`, token: auth !== null, inherited: inheritedFd !== undefined }, 'admin listening');
      resolve({
        port,
        listenFd: () => {
          const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
          return typeof fd === 'number' && fd >= 0 ? fd : null;
        },
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    };
    if (inheritedFd !== undefined) server.listen({ fd: inheritedFd }, ready);
    else server.listen(cfg.bind.port, cfg.bind.host, ready);
  });
}

function methodNotAllowed(allow: string): AdminError {
  return new AdminError(405, 'method_not_allowed', `allowed: ${allow}`);
}
