import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A farm server that refuses a request whose Host differs from the connection's SNI, as Jetty 12
 * does (SecureRequestCustomizer: 400 "Invalid SNI"); the port of Host is ignored, as there.
 * Counts statuses, records every request's headers, and answers `Server: strict/1` so response
 * rules can remove it. `/health` answers like any other path (the same Host rule applies).
 */
export interface StrictServer {
  port: number;
  statuses: Record<number, number>;
  seen: Array<{ path: string; sni: string | null; headers: Record<string, string | string[] | undefined>; raw: string[] }>;
  close(): Promise<void>;
}

export async function startSniStrictServer(opts: { cert: string; key: string; host?: string }): Promise<StrictServer> {
  const statuses: Record<number, number> = {};
  const seen: StrictServer['seen'] = [];
  const server = https.createServer({ cert: opts.cert, key: opts.key, keepAlive: true }, (req, res) => {
    const sni = (req.socket as unknown as { servername?: string | false }).servername || null;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    seen.push({ path: req.url ?? '', sni, headers: req.headers, raw: req.rawHeaders });
    const status = sni !== null && host !== sni.toLowerCase() ? 400 : 200;
    statuses[status] = (statuses[status] ?? 0) + 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain', server: 'strict/1', 'x-backend-secret': 'yes' });
      res.end(status === 400 ? 'Invalid SNI' : `ok ${req.headers.host}`);
    });
  });
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    statuses,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
