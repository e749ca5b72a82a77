import net from 'node:net';
import tls from 'node:tls';

export type Misbehavior = 'close-after-request' | 'reset-after-request' | 'garbage';

export interface MisbehavingServer {
  port: number;
  /** Request heads received (counted by their blank line). */
  requests: number;
  connections: number;
  close(): Promise<void>;
}

/**
 * A TLS server that reads a request and then misbehaves on purpose: closes without answering,
 * resets, or answers with bytes that are not HTTP.
 */
export async function startMisbehavingServer(cert: string, key: string, how: Misbehavior): Promise<MisbehavingServer> {
  const sockets = new Set<net.Socket>();
  const state: MisbehavingServer = {
    port: 0,
    requests: 0,
    connections: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server = tls.createServer({ cert, key }, (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      buf = '';
      state.requests++;
      if (how === 'close-after-request') socket.end();
      else if (how === 'reset-after-request') socket.resetAndDestroy();
      else socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** A port on loopback where nothing listens (connect fails with ECONNREFUSED). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
