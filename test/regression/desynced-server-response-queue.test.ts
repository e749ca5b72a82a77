/**
 * Chaos finding F8 (test/chaos/FINDINGS.md, issue 11): "a request got another client's
 * response". Cause: a server wrote a stray (unsolicited) response on a keep-alive connection
 * just as the gateway's next request crossed it on the wire. HTTP/1.1 pairs responses with
 * requests by order only, so the stray answer was taken as request N's response, N's real
 * response then arrived while request N+1 — another client's — was already on that connection,
 * and N+1's client got N's response (PortSwigger calls it "response queue poisoning"). Every
 * later exchange on that connection stays shifted by one until the extra response lands while
 * the connection is idle (then the idle watch retires it).
 *
 * No HTTP/1.1 intermediary can tell the stray answer from a real one. But the gateway sends
 * `X-Request-Id` on every request (issue 12 item 7), and servers commonly echo it: a response
 * that carries an `X-Request-Id` other than the one its request was sent with is the answer
 * to another request. exchange.ts refuses it before anything is forwarded: LH_RESPONSE_MISMATCH,
 * the connection is destroyed (its queue is out of step), an idempotent request is retried on
 * another connection when `retry-on` has `junk-response`, otherwise 502.
 *
 * Counted here, with one pooled connection (max-conn 1) so that every request rides it
 * back to back: no client gets a body that is another request's, and each server connection's
 * stray answer desynchronised it (the server saw it happen).
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import type { Engine } from '../../src/config/config-types.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

const CLIENTS = 12;
const STRAY_DELAY_MS = 200;

interface DesyncServer {
  port: number;
  /** Stray answers written (one per connection, crossing its second request). */
  strays: number;
  close(): Promise<void>;
}

/**
 * GETs only. Each response echoes the request's X-Request-Id when `echo` (as Rails' RequestId
 * middleware does) and carries the path as its body. On the second request of every
 * connection the server first writes a stray 200 (no request id); the real answer follows
 * just before the answer to the next request on that connection (or STRAY_DELAY_MS later if none
 * comes): the stray crossed the request on the wire.
 */
async function startDesyncServer(cert: string, key: string, echo: boolean): Promise<DesyncServer> {
  const sockets = new Set<Socket>();
  const state: DesyncServer = {
    port: 0,
    strays: 0,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
  const server = tls.createServer({ cert, key }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    let nth = 0;
    let late: string | null = null;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        nth++;
        const path = head.split(' ')[1] ?? '/';
        const id = /\r\nx-request-id: *([^\r]*)/i.exec(head)?.[1] ?? '';
        const body = Buffer.from(path);
        const answer = `HTTP/1.1 200 OK\r\n${echo ? `x-request-id: ${id}\r\n` : ''}content-length: ${body.length}\r\n\r\n${path}`;
        if (nth === 2) {
          state.strays++;
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray');
          // The real answer goes out behind the next request (it crossed the stray on the wire),
          // or after STRAY_DELAY_MS on a connection left idle.
          late = answer;
          setTimeout(() => {
            if (late !== null && s.writable) s.write(late);
            late = null;
          }, STRAY_DELAY_MS);
        } else {
          if (late !== null) s.write(late);
          late = null;
          s.write(answer);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

function get(port: number, ca: string, path: string): Promise<{ status: number; body: string; error: string | null }> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false, headers: { connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), error: (res.headers['x-longhaul-error'] as string | undefined) ?? null }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: '', error: 'client-side error' }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

for (const engine of ['node', 'uws'] as Engine[]) {
  t.test(`${engine}: a server's stray response never reaches another request`, async (t) => {
    const f = await pkiFiles();
    const server = await startDesyncServer(f.pki.farm.certPem, f.pki.farm.keyPem, true);
    t.teardown(() => server.close());
    const gw = await Gateway.start(
      gatewayConfig(
        [listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine })],
        [farmConfig('farm', f.caFile, [serverConfig('s1', server.port, {}, { maxConn: 1 })], { retryOn: ['conn-failure', 'empty-response', 'junk-response'] })],
      ),
      silentLogger,
    );
    t.teardown(() => gw.stop());
    const port = gw.listeners[0]!.port;
    // All at once: with one pooled connection they queue and ride it back to back, so the
    // request behind the stray answer is on the wire before the real answer comes.
    const paths = Array.from({ length: CLIENTS }, (_, i) => `/c${i}-${createHash('sha256').update(String(i)).digest('hex').slice(0, 8)}`);
    const results = await Promise.all(paths.map((p) => get(port, f.pki.ca.certPem, p)));
    const others = results.map((r, i) => ({ r, want: paths[i]! })).filter(({ r, want }) => r.status === 200 && r.body !== want && paths.includes(r.body));
    t.same(others.map(({ r, want }) => `${want} got ${r.body}`), [], "no client got another request's response");
    t.ok(server.strays >= 1, `the server desynchronised ${server.strays} connection(s)`);
    const mismatches = gw.farms.get('farm')!.servers[0]!.counters.errors['LH_RESPONSE_MISMATCH'] ?? 0;
    t.ok(mismatches >= 1, `the gateway refused ${mismatches} response(s) carrying another request's id`);
    // The one request whose answer was the stray gets the server's stray body (going direct it
    // would too); every other request gets its own.
    const own = results.filter((r, i) => r.status === 200 && r.body === paths[i]).length;
    t.ok(own >= CLIENTS - server.strays, `${own} of ${CLIENTS} got their own response`);
  });
}

t.test('a server that sets its own X-Request-Id is never taken for a desynced one', async (t) => {
  const f = await pkiFiles();
  const sockets = new Set<Socket>();
  let n = 0;
  // Answers every request with an id of its own (an edge that replaces request ids): the gateway
  // never saw its id echoed on the connection, so a different id proves nothing.
  const server = tls.createServer({ cert: f.pki.farm.certPem, key: f.pki.farm.keyPem }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1] ?? '/';
        buf = buf.slice(end + 4);
        s.write(`HTTP/1.1 200 OK\r\nx-request-id: server-${++n}\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  const gw = await Gateway.start(
    gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, [serverConfig('s1', (server.address() as AddressInfo).port, {}, { maxConn: 1 })])]),
    silentLogger,
  );
  t.teardown(() => gw.stop());
  const paths = Array.from({ length: CLIENTS }, (_, i) => `/own-${i}`);
  const results = await Promise.all(paths.map((p) => get(gw.listeners[0]!.port, f.pki.ca.certPem, p)));
  t.equal(results.filter((r, i) => r.status === 200 && r.body === paths[i]).length, CLIENTS, 'every request got its own 200');
  t.equal(gw.farms.get('farm')!.servers[0]!.counters.errors['LH_RESPONSE_MISMATCH'] ?? 0, 0, 'no response was refused');
  t.equal(n, CLIENTS, 'each request reached the server once');
});
