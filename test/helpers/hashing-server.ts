import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export interface HashingServer {
  port: number;
  /** Requests whose body was read to its end. */
  requests: number;
  /** SHA-256 (hex) of every request body received, in order. */
  hashes: string[];
  /** Highest number of body bytes read per request so far (for rate-limited reading). */
  bytes: number;
  close(): Promise<void>;
}

export interface HashingServerOptions {
  /** Read the request body at about this many bytes per second (pauses between reads); absent: full speed. */
  readRate?: number;
}

/**
 * A real TLS server that reads each request body, hashes it and answers 200 with the SHA-256
 * (hex) as its body and in `x-body-sha256`: the test compares with what the client sent.
 */
export async function startHashingServer(cert: string, key: string, o: HashingServerOptions = {}): Promise<HashingServer> {
  const sockets = new Set<Socket>();
  const state: HashingServer = {
    port: 0,
    requests: 0,
    hashes: [],
    bytes: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server = https.createServer({ cert, key, keepAliveTimeout: 30_000 }, (req, res) => {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
      state.bytes += c.length;
      if (o.readRate) {
        // ~readRate bytes/s: stop reading for as long as this chunk "took".
        req.pause();
        setTimeout(() => req.resume(), Math.ceil((c.length / o.readRate) * 1000));
      }
    });
    req.on('end', () => {
      const sha = h.digest('hex');
      state.requests++;
      state.hashes.push(sha);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-body-sha256': sha, 'x-body-bytes': String(n), 'content-length': sha.length });
      res.end(sha);
    });
    req.on('error', () => {});
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}
