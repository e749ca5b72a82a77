import net from 'node:net';
import tls from 'node:tls';

/**
 * close-after-request: closes (FIN) as soon as a request head arrived;
 * close-after-body: reads the whole request (Content-Length body) and then closes without a word;
 * reset-after-request: RST after the head; garbage: answers bytes that are not HTTP;
 * status-503: answers every request 503 with a small body, keep-alive (reads the body first);
 * silent: reads the request and never answers.
 */
export type Misbehavior = 'close-after-request' | 'close-after-body' | 'reset-after-request' | 'garbage' | 'status-503' | 'silent';

export interface MisbehavingServer {
  port: number;
  /** Request heads received (counted by their blank line). */
  requests: number;
  /** Methods of the requests received, in order. */
  methods: string[];
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
    methods: [],
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
    let buf = Buffer.alloc(0);
    let bodyLeft = -1; // >= 0 while reading a body
    const onRequestDone = (): void => {
      if (how === 'close-after-body') socket.end();
      else if (how === 'status-503') socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nbusy\n');
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (bodyLeft >= 0) {
          const take = Math.min(bodyLeft, buf.length);
          bodyLeft -= take;
          buf = buf.subarray(take);
          if (bodyLeft > 0) return;
          bodyLeft = -1;
          onRequestDone();
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        state.requests++;
        state.methods.push(head.split(' ')[0]!);
        if (how === 'close-after-request') return void socket.end();
        if (how === 'reset-after-request') return void socket.resetAndDestroy();
        if (how === 'garbage') return void socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
        bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      }
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
