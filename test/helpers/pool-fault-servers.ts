import net from 'node:net';
import tls from 'node:tls';

/**
 * Servers that misbehave toward the pool on purpose (issue 11 items 4 and 5).
 */

export interface FaultServer {
  port: number;
  /** TCP connections accepted. */
  connections: number;
  /** Misbehaviours carried out (bytes sent / FIN / RST). */
  faults: number;
  /** HTTP requests answered 200. */
  answered: number;
  close(): Promise<void>;
}


/**
 * A TLS server that answers every request `200 ok` (keep-alive), except that on its first
 * `faulty` connections it sends `how` 30 ms after the handshake, before any request: unexpected
 * bytes, or a FIN (close_notify + FIN).
 */
export async function startEarlyTalker(cert: string, key: string, how: 'bytes' | 'fin', faulty = 1): Promise<FaultServer> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0, faults: 0, answered: 0 } as FaultServer;
  const server = tls.createServer({ cert, key }, (socket) => {
    const n = ++state.connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (n <= faulty) {
      setTimeout(() => {
        state.faults++;
        if (how === 'bytes') socket.write('HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n');
        else socket.end();
      }, 30);
    }
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(end + 4);
        state.answered++;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      }
    });
  });
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/**
 * A TLS 1.3 server "with session tickets disabled that resets right after the handshake": a TCP
 * relay in front of a node:tls server. It passes the handshake through, then — once the client
 * sent its Finished (its first encrypted record, type 23) — drops everything the server sends
 * (the NewSessionTicket messages: the client waits for a ticket that never comes) and resets the
 * client's connection 10 ms later, inside the client's ticket wait.
 */
export async function startTicketlessResetter(cert: string, key: string): Promise<FaultServer> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0, faults: 0, answered: 0 } as FaultServer;
  const backend = tls.createServer({ cert, key, minVersion: 'TLSv1.3' }, (s) => {
    s.on('error', () => {});
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const relay = net.createServer((client) => {
    state.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const up = net.connect(backendPort, '127.0.0.1');
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => {});
    let clientFinished = false;
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      up.write(d);
      if (clientFinished) return;
      pending = Buffer.concat([pending, d]);
      // Walk the client's TLS records: type(1) version(2) length(2).
      while (pending.length >= 5) {
        const len = pending.readUInt16BE(3);
        if (pending.length < 5 + len) break;
        if (pending[0] === 23) {
          clientFinished = true;
          setTimeout(() => {
            state.faults++;
            client.resetAndDestroy();
            up.destroy();
          }, 10);
          break;
        }
        pending = pending.subarray(5 + len);
      }
    });
    up.on('data', (d: Buffer) => {
      if (!clientFinished) client.write(d);
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  state.port = (relay.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      relay.close(() => backend.close(() => r()));
    });
  return state;
}
