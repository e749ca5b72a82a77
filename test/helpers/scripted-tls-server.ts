import net from 'node:net';
import tls from 'node:tls';

export interface ScriptedRequest {
  /** Request head, request line included, without the blank line. */
  head: string;
  /** Body bytes after framing was undone (Content-Length or chunked). */
  body: Buffer;
  /** The raw bytes of this request as they came (head, framing and body). */
  raw: Buffer;
  /** Index of the request on its connection, from 0. */
  index: number;
  /** Index of the connection on the server, from 0. */
  conn: number;
}

export interface ScriptedServer {
  port: number;
  connections: number;
  requests: ScriptedRequest[];
  /** Sockets closed by the peer (gateway) so far. */
  closedByPeer: number;
  /** Bytes a connection received after its last complete request (should stay 0). */
  sockets: tls.TLSSocket[];
  close(): Promise<void>;
}

/**
 * A raw TLS HTTP/1.1 server whose every answer is written by the test: `answer(socket, req)` is
 * called once per complete request (Content-Length or chunked body decoded), and may write
 * anything — two responses, a response split over writes, garbage, a FIN.
 */
export async function startScriptedServer(cert: string, key: string, answer: (socket: tls.TLSSocket, req: ScriptedRequest, server: ScriptedServer) => void): Promise<ScriptedServer> {
  const state: ScriptedServer = {
    port: 0, connections: 0, requests: [], closedByPeer: 0, sockets: [],
    close: () => new Promise<void>((r) => {
      for (const s of state.sockets) s.destroy();
      server.close(() => r());
    }),
  };
  const server = tls.createServer({ cert, key }, (socket) => {
    const conn = state.connections++;
    state.sockets.push(socket);
    socket.on('error', () => {});
    socket.on('end', () => state.closedByPeer++);
    let buf = Buffer.alloc(0);
    let index = 0;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        let pos = end + 4;
        let body = Buffer.alloc(0);
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
          const parts: Buffer[] = [];
          for (;;) {
            const le = buf.indexOf('\r\n', pos);
            if (le < 0) return;
            const size = parseInt(buf.subarray(pos, le).toString('latin1'), 16);
            if (buf.length < le + 2 + size + 2) return;
            parts.push(buf.subarray(le + 2, le + 2 + size));
            pos = le + 2 + size + 2;
            if (size === 0) break;
          }
          body = Buffer.concat(parts);
        } else if (cl) {
          const n = Number(cl[1]);
          if (buf.length < pos + n) return;
          body = buf.subarray(pos, pos + n);
          pos += n;
        }
        const req: ScriptedRequest = { head, body: Buffer.from(body), raw: Buffer.from(buf.subarray(0, pos)), index: index++, conn };
        buf = buf.subarray(pos);
        state.requests.push(req);
        answer(socket, req, state);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}
