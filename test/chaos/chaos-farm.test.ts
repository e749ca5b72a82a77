/**
 * The chaos servers really misbehave: each fault seen from a raw TLS client with no gateway in
 * between (a fault that silently behaved would make the chaos run prove nothing).
 */
import t, { type Test } from 'tap';
import net from 'node:net';
import { rawTlsRequest, header } from '../helpers/raw-tls-client.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { bodyBytes, sha256 } from './chaos-bodies.js';
import { framedBody, requestHead, type ReqRecipe } from './chaos-client.js';
import { ChaosServer, Ledger, type ServerFault } from './chaos-farm.js';

async function server(t: Test): Promise<{ s: ChaosServer; ledger: Ledger }> {
  const f = await pkiFiles();
  const ledger = new Ledger();
  const s = new ChaosServer('s1', f.pki.farm.certPem, f.pki.farm.keyPem, 1, ledger);
  s.mode = 'chaos';
  s.whims = false;
  await s.start();
  t.teardown(() => s.close());
  return { s, ledger };
}

let n = 0;
function put(fault: ServerFault, chunked = false): ReqRecipe {
  return { rid: `self-${fault}-${n++}`, method: 'PUT', idempotencyKey: false, reqLen: 10_000, reqChunked: chunked, respLen: 20_000, respChunked: false, fault };
}
function bytes(r: ReqRecipe, close = false): Buffer {
  return Buffer.concat([Buffer.from(requestHead(r, close), 'latin1'), ...framedBody(r, 1)]);
}

t.test('fault none: a byte-exact 200 that echoes the SHA-256 of both bodies, for both request framings', async (t) => {
  const { s, ledger } = await server(t);
  for (const chunked of [false, true]) {
    const r = put('none', chunked);
    const reply = await rawTlsRequest({ port: s.port, data: bytes(r), stopAfterResponses: 1, quietMs: 2000 });
    const resp = reply.responses[0]!;
    t.equal(resp.status, 200);
    t.equal(header(resp, 'x-chaos-rid'), r.rid);
    t.equal(sha256(resp.body), sha256(bodyBytes(r.rid, 'resp', 20_000)), 'response body is the derived one');
    t.equal(header(resp, 'x-chaos-req-sha'), sha256(bodyBytes(r.rid, 'req', 10_000)), 'request body echoed');
    t.same(ledger.arrivalsOf(r.rid).map((a) => [a.bodyComplete, a.bodyOk]), [[true, true]]);
  }
  t.same(ledger.violations, []);
});

t.test('a wrong request body is recorded as a violation by the server', async (t) => {
  const { s, ledger } = await server(t);
  const r = put('none');
  const wire = bytes(r);
  wire[wire.length - 1] ^= 0xff;
  await rawTlsRequest({ port: s.port, data: wire, stopAfterResponses: 1, quietMs: 2000 });
  t.equal(ledger.violations.length, 1, 'one violation');
  t.match(ledger.violations[0], /accepted a request body that is not the client's/);
});

t.test('each fault happens where it says, on the first arrival only', async (t) => {
  const { s, ledger } = await server(t);
  const cases: Array<[ServerFault, (reply: Awaited<ReturnType<typeof rawTlsRequest>>, r: ReqRecipe) => void]> = [
    ['close-after-head', (x, r) => {
      t.equal(x.raw.length, 0, 'close-after-head: no byte');
      t.ok(x.eof, 'close-after-head: FIN');
      t.equal(ledger.arrivalsOf(r.rid)[0]?.bodyComplete, false, 'close-after-head: body not read');
    }],
    ['reset-after-head', (x) => {
      t.equal(x.raw.length, 0, 'reset-after-head: no byte');
      t.equal((x.error as NodeJS.ErrnoException | null)?.code, 'ECONNRESET', 'reset-after-head: RST');
    }],
    ['close-mid-upload', (x, r) => {
      t.equal(x.raw.length, 0, 'close-mid-upload: no byte');
      t.ok(x.eof || x.error, 'close-mid-upload: closed');
      t.equal(ledger.arrivalsOf(r.rid)[0]?.bodyComplete, false, 'close-mid-upload: body not complete');
    }],
    ['partial-head', (x) => {
      t.equal(x.responses.length, 0, 'partial-head: no complete response');
      t.match(x.raw.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/, 'partial-head: a head begins');
      t.notOk(x.raw.includes('\r\n\r\n'), 'partial-head: and never ends');
      t.ok(x.eof, 'partial-head: FIN');
    }],
    ['close-mid-response', (x) => {
      t.equal(x.responses.length, 0, 'close-mid-response: the response is incomplete');
      t.ok(x.raw.includes('\r\n\r\n') && x.raw.length < 20_000, 'close-mid-response: head and part of the body');
      t.ok(x.eof, 'close-mid-response: FIN');
    }],
    ['reset-mid-response', (x) => {
      t.equal(x.responses.length, 0, 'reset-mid-response: the response is incomplete');
      t.ok(x.eof || x.error, 'reset-mid-response: cut');
    }],
    ['stall', (x) => {
      t.equal(x.raw.length, 0, 'stall: no byte');
      t.ok(x.timedOut && !x.eof, 'stall: the connection stays open, silent');
    }],
    ['conn-close', (x) => {
      t.equal(x.responses[0]?.status, 200, 'conn-close: a complete 200');
      t.equal(header(x.responses[0]!, 'connection'), 'close', 'conn-close: Connection: close');
      t.ok(x.eof, 'conn-close: FIN');
    }],
    ['garbage', (x) => {
      t.match(x.raw.toString('latin1'), /^SSH-2\.0/, 'garbage: not HTTP');
      t.equal(x.responses.length, 0);
    }],
  ];
  for (const [fault, check] of cases) {
    const r = put(fault);
    // rawTlsRequest rejects an error that comes before any byte (a reset right after the head).
    const reply = await rawTlsRequest({ port: s.port, data: bytes(r), quietMs: 600, totalMs: 3000 }).catch((e: Error) => ({ raw: Buffer.alloc(0), responses: [], trailing: Buffer.alloc(0), eof: false, error: e, timedOut: false }));
    check(reply, r);
    // The same request id again (a retry): served.
    const again = await rawTlsRequest({ port: s.port, data: bytes(r), stopAfterResponses: 1, quietMs: 2000 });
    t.equal(again.responses[0]?.status, 200, `${fault}: the second arrival is served`);
    t.equal(ledger.arrivalsOf(r.rid).length, 2, `${fault}: two arrivals counted`);
  }
  t.same(ledger.violations, []);
});

t.test('goAway: every connection dies, connects are refused, then it is back on the same port', async (t) => {
  const { s } = await server(t);
  const port = s.port;
  const gone = s.goAway(300);
  await new Promise((r) => setTimeout(r, 50));
  const refused = await new Promise<string>((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('connect', () => (c.destroy(), resolve('connected')));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.equal(refused, 'ECONNREFUSED', 'refused while away');
  await gone;
  t.equal(s.port, port, 'same port');
  const r = put('none');
  const x = await rawTlsRequest({ port, data: bytes(r), stopAfterResponses: 1, quietMs: 2000 });
  t.equal(x.responses[0]?.status, 200, 'served again');
});
