/**
 * A farm server that records exactly what reached it: every byte of every TLS connection (raw,
 * as the gateway sent it) and every request its strict parser (node:http, llhttp) completed.
 *
 * Shape: node:tls terminates TLS and records the plaintext, then relays it to a plain node:http
 * server on loopback that parses and answers. (Recording on the TLS socket that node:http
 * itself reads is not reliable: node:http may consume the stream natively, without 'data'.)
 *
 * The answer is JSON describing the request (method, url, version, rawHeaders as latin1, body
 * SHA-256 and length, trailers). Special paths:
 *   /resp-latin1        a response header with the byte 0xE9 (latin1 "é") and one with UTF-8 é
 *   /resp-chunked       a response without Content-Length (chunked to 1.1, close-delimited to 1.0)
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';

export interface BackendRequest {
  method: string;
  url: string;
  httpVersion: string;
  /** [name, value, …] as node:http decoded them: latin1, byte for byte. */
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
  body: string;
  rawTrailers: string[];
}

export interface RecordingBackend {
  port: number;
  /** Requests the backend's parser completed, in order (append-only). */
  requests: BackendRequest[];
  /** TLS connections accepted so far. */
  connectionCount(): number;
  /** A point in the recording: what came later is what one test case caused. */
  mark(): Mark;
  /** Plaintext bytes received on any connection after `m`, in arrival order, as latin1 text. */
  bytesSince(m: Mark): string;
  requestsSince(m: Mark): BackendRequest[];
  close(): Promise<void>;
}

export interface Mark {
  chunks: number;
  requests: number;
}

export function header(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

export async function startRecordingBackend(cert: string, key: string): Promise<RecordingBackend> {
  const requests: BackendRequest[] = [];
  /** Every plaintext chunk of every connection, in arrival order (append-only). */
  const log: Buffer[] = [];
  let accepted = 0;
  const app = http.createServer({ keepAliveTimeout: 60_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const h = createHash('sha256');
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      h.update(c);
      parts.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const seen: BackendRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        bodyLength: body.length,
        bodySha256: h.digest('hex'),
        body: body.subarray(0, 256).toString('latin1'),
        rawTrailers: req.rawTrailers,
      };
      requests.push(seen);
      if (req.url === '/resp-latin1') {
        res.setHeader('x-latin1', 'caf\xe9');
        res.setHeader('x-utf8', Buffer.from('café', 'utf8').toString('latin1'));
      }
      if (req.url?.startsWith('/resp-chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(Buffer.from('part one, '));
        setTimeout(() => res.end(Buffer.from('part two')), 20);
        return;
      }
      // A Buffer, never a string: node:http writes the head in the encoding of a string body
      // sent with it (UTF-8), which would re-encode latin1 header bytes.
      const payload = Buffer.from(JSON.stringify(seen), 'utf8');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length });
      res.end(payload);
    });
  });
  app.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;
  const relays = new Set<net.Socket>();
  const front = tls.createServer({ cert, key }, (socket) => {
    accepted++;
    const up = net.connect(appPort, '127.0.0.1');
    relays.add(socket);
    relays.add(up);
    socket.on('data', (d: Buffer) => {
      log.push(Buffer.from(d));
      up.write(d);
    });
    up.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => up.end());
    up.on('end', () => socket.end());
    const gone = (): void => {
      socket.destroy();
      up.destroy();
      relays.delete(socket);
      relays.delete(up);
    };
    socket.on('error', gone);
    up.on('error', gone);
    socket.on('close', gone);
    up.on('close', gone);
  });
  front.on('tlsClientError', () => {});
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return {
    port: (front.address() as AddressInfo).port,
    requests,
    connectionCount: () => accepted,
    mark: () => ({ chunks: log.length, requests: requests.length }),
    bytesSince: (m) => Buffer.concat(log.slice(m.chunks)).toString('latin1'),
    requestsSince: (m) => requests.slice(m.requests),
    close: async () => {
      for (const s of relays) s.destroy();
      app.closeAllConnections();
      await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => app.close(r))]);
    },
  };
}
