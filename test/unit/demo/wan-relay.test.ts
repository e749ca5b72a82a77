import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import { generateTestPki } from '../../../src/certs/dev-certs.js';
import { startFarmServer } from '../../../src/demo/farm-server.js';
import { startWanRelay, type WanRelay } from '../../../src/demo/wan-relay.js';

type Event = { kind: 'data'; bytes: number } | { kind: 'end' } | { kind: 'error'; code: string } | { kind: 'close' };

/** A TCP server whose per-connection behaviour the test supplies; it records every event it sees. */
async function target(t: Test, onConn: (s: net.Socket, events: Event[]) => void) {
  const conns: Event[][] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const events: Event[] = [];
    conns.push(events);
    s.on('data', (c: Buffer) => events.push({ kind: 'data', bytes: c.length }));
    s.on('end', () => events.push({ kind: 'end' }));
    s.on('error', (e: NodeJS.ErrnoException) => events.push({ kind: 'error', code: e.code ?? '' }));
    s.on('close', () => events.push({ kind: 'close' }));
    onConn(s, events);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as net.AddressInfo).port, conns };
}

async function relayTo(t: Test, port: number, rttMs: number): Promise<WanRelay> {
  const relay = await startWanRelay({ target: { host: '127.0.0.1', port }, rttMs });
  t.teardown(() => relay.close());
  return relay;
}

/** Connects through the relay, records the client's events and collects what it receives. */
function client(relay: WanRelay) {
  const socket = net.connect({ host: '127.0.0.1', port: relay.port, allowHalfOpen: true });
  const events: Event[] = [];
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    events.push({ kind: 'data', bytes: c.length });
  });
  socket.on('end', () => events.push({ kind: 'end' }));
  socket.on('error', (e: NodeJS.ErrnoException) => events.push({ kind: 'error', code: e.code ?? '' }));
  const closed = new Promise<void>((r) => socket.on('close', () => {
    events.push({ kind: 'close' });
    r();
  }));
  return { socket, events, received: () => Buffer.concat(chunks), closed };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const kinds = (events: Event[]) => events.map((e) => e.kind).filter((k, i, a) => k !== 'data' || a[i - 1] !== 'data');

t.test('bytes arrive intact and in order both ways; FIN follows the data', async (t) => {
  const { port, conns } = await target(t, (s) => s.pipe(s)); // echo; ends after the client's FIN
  const relay = await relayTo(t, port, 20);
  const c = client(relay);
  const payload = randomBytes(3 * 1024 * 1024 + 13);
  for (let off = 0; off < payload.length; off += 100_000) c.socket.write(payload.subarray(off, off + 100_000));
  c.socket.end();
  await c.closed;

  t.equal(c.received().length, payload.length);
  t.equal(sha(c.received()), sha(payload));
  t.same(kinds(c.events), ['data', 'end', 'close']);
  t.same(kinds(conns[0]!), ['data', 'end', 'close'], 'server saw every byte, then FIN');
  t.equal(relay.stats.connections, 1);
  t.equal(relay.stats.bytesToServer, payload.length);
  t.equal(relay.stats.bytesToClient, payload.length);
  await until(() => relay.stats.open === 0, 'relay connection closed');
});

t.test('half-close: after the client FIN the server can still send', async (t) => {
  const { port, conns } = await target(t, (s) => {
    s.on('end', () => {
      // Reply only after the client's FIN arrived, then close our side.
      s.write('late ');
      setTimeout(() => s.end('reply'), 10);
    });
  });
  const relay = await relayTo(t, port, 20);
  const c = client(relay);
  c.socket.end('request');
  await c.closed;
  t.equal(c.received().toString(), 'late reply');
  t.same(kinds(c.events), ['data', 'end', 'close']);
  t.same(kinds(conns[0]!), ['data', 'end', 'close']);
});

t.test('server FIN reaches the client while the client may still send', async (t) => {
  const got: Buffer[] = [];
  const { port } = await target(t, (s) => {
    s.on('data', (d: Buffer) => got.push(d));
    s.end('bye');
  });
  const relay = await relayTo(t, port, 20);
  const c = client(relay);
  await until(() => c.events.some((e) => e.kind === 'end'), 'client sees FIN');
  t.equal(c.received().toString(), 'bye');
  c.socket.end('after-fin');
  await c.closed;
  await until(() => Buffer.concat(got).toString() === 'after-fin', 'server gets data sent after its FIN');
});

t.test('server RST resets the client; nothing is turned into a clean FIN', async (t) => {
  const { port } = await target(t, (s) => {
    s.write('partial');
    setTimeout(() => s.resetAndDestroy(), 10);
  });
  const relay = await relayTo(t, port, 20);
  const c = client(relay);
  await c.closed;
  t.equal(c.received().toString(), 'partial', 'data sent before the RST still arrives');
  t.notOk(c.events.some((e) => e.kind === 'end'), 'no FIN');
  t.ok(c.events.some((e) => e.kind === 'error' && e.code === 'ECONNRESET'), 'ECONNRESET');
});

t.test('client RST resets the server side', async (t) => {
  const { port, conns } = await target(t, () => {});
  const relay = await relayTo(t, port, 10);
  const c = client(relay);
  c.socket.write('hello');
  await until(() => conns[0]?.some((e) => e.kind === 'data') === true, 'server got data');
  c.socket.resetAndDestroy();
  await until(() => conns[0]!.some((e) => e.kind === 'close'), 'server side closed');
  t.notOk(conns[0]!.some((e) => e.kind === 'end'), 'no FIN');
  t.ok(conns[0]!.some((e) => e.kind === 'error' && e.code === 'ECONNRESET'));
});

t.test('refused upstream connect resets the client', async (t) => {
  const { port } = await target(t, () => {});
  const free = net.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const deadPort = (free.address() as net.AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  t.ok(port > 0);
  const relay = await relayTo(t, deadPort, 10);
  const c = client(relay);
  c.socket.write('anyone?');
  await c.closed;
  t.ok(c.events.some((e) => e.kind === 'error' && e.code === 'ECONNRESET'));
  t.equal(relay.stats.bytesToServer, 0);
});

t.test('connection setup costs one RTT: first echo arrives no sooner than 2 RTT after connect', async (t) => {
  const rtt = 60;
  const { port } = await target(t, (s) => s.pipe(s));
  const relay = await relayTo(t, port, rtt);
  const started = performance.now();
  const c = client(relay);
  c.socket.write('x');
  await until(() => c.received().length === 1, 'echo');
  const elapsed = performance.now() - started;
  t.ok(elapsed >= rtt * 2 * 0.8, `echo after ${elapsed.toFixed(0)} ms (setup RTT + one round trip)`);
  c.socket.destroy();
});

t.test('TLS and HTTP through the relay, counted at the farm server', async (t) => {
  const pki = await generateTestPki();
  const farm = await startFarmServer({ name: 'far', cert: pki.farm.certPem, key: pki.farm.keyPem });
  t.teardown(() => farm.close());
  const relay = await relayTo(t, farm.port, 20);
  const agent = new https.Agent({ ca: pki.ca.certPem, keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string) =>
    new Promise<{ body: Buffer; conn: string | undefined }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: relay.port, path, agent, servername: 'farm.test' }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ body: Buffer.concat(chunks), conn: res.headers['x-conn-id'] as string | undefined }));
        })
        .on('error', reject);
    });
  t.equal((await get('/hello')).body.toString(), 'hello from far');
  const big = await get('/bytes/500000');
  t.equal(big.body.length, 500_000);
  t.ok(big.body.every((b, i) => b === i % 251));
  t.equal(big.conn, '1');
  t.equal(farm.stats.handshakes, 1);
  t.equal(relay.stats.connections, 1);
});
