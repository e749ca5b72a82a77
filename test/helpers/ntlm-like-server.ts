import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * A scripted server that authenticates *connections*, like NTLM (MS-NTHT):
 *   1. a request without Authorization → 401 `WWW-Authenticate: NTLM`;
 *   2. `Authorization: NTLM negotiate` → 401 `WWW-Authenticate: NTLM challenge-<connId>`;
 *   3. `Authorization: NTLM response-<connId>` → 200 only on the connection that got that
 *      challenge (anything else: 401, and `wrongConnection` counts it);
 *   afterwards every request on an authenticated connection is 200 without Authorization.
 * Every response says which connection it came from (`x-conn-id`) and who it was authenticated
 * for (`x-auth-user`). `/public` answers 200 to anyone (client 2's traffic).
 */
export interface NtlmLikeServer {
  port: number;
  /** Connection ids, in order of opening. */
  opened: number[];
  /** Connection ids closed, and by whom first. */
  closedByClient: number[];
  wrongConnection: number;
  /** connId → user authenticated on it. */
  authenticated: Map<number, string>;
  /** connId → paths of the requests it carried. */
  requests: Map<number, string[]>;
  close(): Promise<void>;
}

export async function startNtlmLikeServer(cert: string, key: string): Promise<NtlmLikeServer> {
  let next = 1;
  const ids = new WeakMap<TLSSocket, number>();
  const s: Omit<NtlmLikeServer, 'port' | 'close'> = { opened: [], closedByClient: [], wrongConnection: 0, authenticated: new Map(), requests: new Map() };
  const sockets = new Set<TLSSocket>();
  const server = https.createServer({ cert, key, keepAliveTimeout: 60_000 }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const id = ids.get(socket)!;
    s.requests.get(id)!.push(req.url ?? '');
    const auth = req.headers.authorization ?? '';
    const user = new URL(req.url ?? '/', 'https://x').searchParams.get('user') ?? 'anon';
    req.resume();
    const send = (status: number, headers: Record<string, string>, body: string): void => {
      res.writeHead(status, { 'x-conn-id': String(id), 'x-auth-user': s.authenticated.get(id) ?? '', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    if (req.url?.startsWith('/public')) return send(200, {}, `public on ${id}\n`);
    if (s.authenticated.has(id)) return send(200, {}, `hello ${s.authenticated.get(id)} on ${id}\n`);
    if (auth === 'NTLM negotiate') return send(401, { 'www-authenticate': `NTLM challenge-${id}` }, 'challenge\n');
    const m = /^NTLM response-(\d+)$/.exec(auth);
    if (m) {
      if (Number(m[1]) !== id) {
        s.wrongConnection++;
        return send(401, { 'www-authenticate': 'NTLM' }, 'wrong connection\n');
      }
      s.authenticated.set(id, user);
      return send(200, {}, `welcome ${user} on ${id}\n`);
    }
    send(401, { 'www-authenticate': 'NTLM', 'content-type': 'text/plain' }, 'authenticate\n');
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const id = next++;
    ids.set(socket, id);
    sockets.add(socket);
    s.opened.push(id);
    s.requests.set(id, []);
    let weClosed = false;
    const origEnd = socket.end.bind(socket);
    socket.end = ((...a: unknown[]) => {
      // node's http server ends its side itself once the peer's FIN arrived: that is not ours.
      if (!socket.readableEnded) weClosed = true;
      return origEnd(...(a as []));
    }) as typeof socket.end;
    socket.on('end', () => {
      if (!weClosed) s.closedByClient.push(id);
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(s, {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const so of sockets) so.destroy();
        server.close(() => r());
      }),
  });
}
