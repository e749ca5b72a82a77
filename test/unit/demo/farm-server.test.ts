import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import tls from 'node:tls';
import { generateTestPki } from '../../../src/certs/dev-certs.js';
import { startFarmServer, type FarmBehavior, type FarmServer, type FarmServerOptions } from '../../../src/demo/farm-server.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

async function farm(t: Test, behavior: FarmBehavior = {}, extra: Partial<FarmServerOptions> = {}): Promise<FarmServer> {
  const pki = await generateTestPki();
  const server = await startFarmServer({ name: 'f1', cert: pki.farm.certPem, key: pki.farm.keyPem, behavior, ...extra });
  t.teardown(() => server.close());
  return server;
}

async function agentFor(t: Test, opts: https.AgentOptions = {}): Promise<https.Agent> {
  const pki = await generateTestPki();
  const agent = new https.Agent({ ca: pki.ca.certPem, ...opts });
  t.teardown(() => agent.destroy());
  return agent;
}

function request(
  server: FarmServer,
  agent: https.Agent,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer; servername?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent,
        servername: opts.servername ?? 'farm.test',
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls a condition about counted events; the deadline only bounds a failing test. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('routes: hello, health, status, slow; every response names server and connection', async (t) => {
  const server = await farm(t);
  const agent = await agentFor(t, { keepAlive: true, maxSockets: 1 });

  const hello = await request(server, agent, '/hello');
  t.equal(hello.status, 200);
  t.equal(hello.body.toString(), 'hello from f1');
  t.equal(hello.headers['x-server'], 'f1');
  t.equal(hello.headers['x-conn-id'], '1');
  t.equal(hello.headers['x-conn-request'], '1');
  t.equal(hello.headers['keep-alive'], undefined, 'no Keep-Alive hint unless configured');

  t.equal((await request(server, agent, '/health')).status, 200);
  const s503 = await request(server, agent, '/status/503');
  t.equal(s503.status, 503);
  t.equal(s503.headers['x-conn-request'], '3');
  t.equal((await request(server, agent, '/status/204')).body.length, 0);
  t.equal((await request(server, agent, '/nope')).status, 404);
  t.equal((await request(server, agent, '/hello', { method: 'POST', body: Buffer.from('x') })).status, 405);
  const slow = await request(server, agent, '/slow/30');
  t.equal(slow.body.toString(), 'slow 30');

  t.equal(server.stats.connections, 1);
  t.equal(server.stats.requests, 7);
  t.same(server.stats.perConnection.map((c) => c.requests), [7]);
  t.same(
    server.requests.map((r) => `${r.method} ${r.url} #${r.connId}/${r.connRequest}`),
    ['GET /hello #1/1', 'GET /health #1/2', 'GET /status/503 #1/3', 'GET /status/204 #1/4', 'GET /nope #1/5', 'POST /hello #1/6', 'GET /slow/30 #1/7'],
  );
});

t.test('full vs resumed handshakes', async (t) => {
  const server = await farm(t);
  // A non-keep-alive agent opens one connection per request and offers its cached session.
  const resuming = await agentFor(t);
  for (let i = 0; i < 3; i++) t.equal((await request(server, resuming, '/hello')).status, 200);
  t.equal(server.stats.handshakes, 3);
  t.equal(server.stats.fullHandshakes, 1);
  t.equal(server.stats.resumedHandshakes, 2);
  t.same(server.stats.perConnection.map((c) => c.resumed), [false, true, true]);

  const noCache = await agentFor(t, { maxCachedSessions: 0 });
  for (let i = 0; i < 2; i++) await request(server, noCache, '/hello');
  t.equal(server.stats.fullHandshakes, 3);
  t.equal(server.stats.resumedHandshakes, 2);

  // Explicit session hand-over, as the gateway's session cache does it.
  const pki = await generateTestPki();
  const first = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'farm.test', ca: pki.ca.certPem });
  const session = await new Promise<Buffer>((resolve, reject) => {
    first.once('session', resolve);
    first.once('error', reject);
  });
  first.end();
  const second = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'farm.test', ca: pki.ca.certPem, session });
  await new Promise<void>((resolve, reject) => {
    second.once('secureConnect', resolve);
    second.once('error', reject);
  });
  t.equal(second.isSessionReused(), true, 'client sees reuse');
  second.end();
  await until(() => server.stats.handshakes === 7, 'two more handshakes');
  t.equal(server.stats.resumedHandshakes, 3, 'server counted the resumption');
});

t.test('SNI of each connection is recorded', async (t) => {
  const server = await farm(t);
  const agent = await agentFor(t, { maxCachedSessions: 0 });
  await request(server, agent, '/hello', { servername: 'a.test' });
  await request(server, agent, '/hello', { servername: 'b.test' });
  await request(server, agent, '/hello', { servername: '' }); // empty servername: no SNI extension
  t.same(server.stats.sniPerConnection, ['a.test', 'b.test', '']);
  t.same(server.requests.map((r) => r.sni), ['a.test', 'b.test', '']);
  t.same(server.stats.perConnection.map((c) => c.sni), ['a.test', 'b.test', '']);
});

t.test('closeEvery: every Nth response on a connection carries Connection: close and the server closes', async (t) => {
  const server = await farm(t, { closeEvery: 2, keepAliveHintSeconds: 7 });
  const agent = await agentFor(t, { keepAlive: true, maxSockets: 1 });
  const replies = [];
  for (let i = 0; i < 5; i++) replies.push(await request(server, agent, '/hello'));
  t.same(replies.map((r) => r.headers['x-conn-id']), ['1', '1', '2', '2', '3']);
  t.same(replies.map((r) => r.headers.connection), ['keep-alive', 'close', 'keep-alive', 'close', 'keep-alive']);
  t.same(replies.map((r) => r.headers['keep-alive']), ['timeout=7', undefined, 'timeout=7', undefined, 'timeout=7']);
  await until(() => server.stats.connectionClosedByServer === 2, 'two server closes');
  t.equal(server.stats.connectionClosedByClient, 0);
  t.same(server.stats.perConnection.map((c) => [c.requests, c.closedBy]), [[2, 'server'], [2, 'server'], [1, null]]);
  t.equal(server.stats.requestsSeenWithConnectionClose, 0);

  agent.destroy();
  await until(() => server.stats.connectionClosedByClient === 1, 'client close');
  t.equal(server.stats.perConnection[2]!.closedBy, 'client');
});

t.test('idle close is counted as server-closed; client close as client-closed', async (t) => {
  const server = await farm(t, { idleCloseMs: 50 });
  const agent = await agentFor(t, { keepAlive: true, maxSockets: 1 });
  await request(server, agent, '/hello');
  await until(() => server.stats.openConnections === 0, 'idle close');
  t.equal(server.stats.connectionClosedByServer, 1);
  t.equal(server.stats.connectionClosedByClient, 0);
  t.equal(server.stats.perConnection[0]!.closedBy, 'server');

  server.behavior.idleCloseMs = 60_000;
  const r = await request(server, agent, '/hello', { headers: { connection: 'close' } });
  t.equal(r.headers.connection, 'close');
  t.equal(server.stats.requestsSeenWithConnectionClose, 1);
  await until(() => server.stats.openConnections === 0, 'close after Connection: close');

  await request(server, agent, '/hello');
  agent.destroy();
  await until(() => server.stats.connectionClosedByClient === 1, 'client close');
  t.equal(server.stats.connectionClosedByServer, 2, 'the Connection: close response was closed by the server');
});

t.test('bytes: deterministic content, Content-Length or chunked', async (t) => {
  const server = await farm(t);
  const agent = await agentFor(t, { keepAlive: true });
  const n = 300_000;
  const expected = Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

  const fixed = await request(server, agent, `/bytes/${n}`);
  t.equal(fixed.headers['content-length'], String(n));
  t.equal(fixed.headers['transfer-encoding'], undefined);
  t.ok(fixed.body.equals(expected));

  const chunked = await request(server, agent, `/bytes/${n}?chunked=1`);
  t.equal(chunked.headers['content-length'], undefined);
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  t.ok(chunked.body.equals(expected));

  t.equal((await request(server, agent, '/bytes/0')).body.length, 0);
  const head = await request(server, agent, `/bytes/${n}`, { method: 'HEAD' });
  t.equal(head.headers['content-length'], String(n));
  t.equal(head.body.length, 0);
});

t.test('echo: body integrity, sha256 in headers, trailers when streaming, request log', async (t) => {
  const server = await farm(t);
  const agent = await agentFor(t, { keepAlive: true });
  const body = randomBytes(1024 * 1024 + 7);

  const r = await request(server, agent, '/echo', { method: 'POST', body });
  t.ok(r.body.equals(body));
  t.equal(r.headers['x-body-sha256'], sha(body));
  t.equal(r.headers['x-body-length'], String(body.length));

  const streamed = await request(server, agent, '/echo?stream=1', { method: 'PUT', body });
  t.ok(streamed.body.equals(body));
  t.equal(streamed.trailers['x-body-sha256'], sha(body));
  t.equal(streamed.trailers['x-body-length'], String(body.length));

  const empty = await request(server, agent, '/echo', { method: 'POST' });
  t.equal(empty.headers['x-body-sha256'], sha(Buffer.alloc(0)));

  t.same(
    server.requests.map((x) => [x.method, x.bodyLength, x.bodySha256]),
    [
      ['POST', body.length, sha(body)],
      ['PUT', body.length, sha(body)],
      ['POST', 0, sha(Buffer.alloc(0))],
    ],
  );
  const names = server.requests[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
  t.ok(names.includes('host'));
});

t.test('a body cut off mid-way leaves bodySha256 null', async (t) => {
  const server = await farm(t);
  const pki = await generateTestPki();
  const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'farm.test', ca: pki.ca.certPem });
  await new Promise<void>((resolve) => socket.once('secureConnect', resolve));
  socket.write('POST /echo HTTP/1.1\r\nHost: farm.test\r\nContent-Length: 100\r\n\r\n0123456789');
  await until(() => server.requests[0]?.bodyLength === 10, 'partial body');
  socket.destroy();
  await until(() => server.stats.openConnections === 0, 'close');
  t.equal(server.requests[0]!.bodySha256, null);
  t.equal(server.stats.connectionClosedByClient, 1);
});

t.test('client certificates are requested when ca is set', async (t) => {
  const pki = await generateTestPki();
  const server = await farm(t, {}, { ca: pki.ca.certPem });
  const withCert = await agentFor(t, { cert: pki.client.certPem, key: pki.client.keyPem });
  t.equal((await request(server, withCert, '/hello')).status, 200);
  t.equal(server.stats.perConnection[0]!.clientCert, 'longhaul-test-client');
  const without = await agentFor(t);
  await t.rejects(request(server, without, '/hello'));
  await until(() => server.stats.handshakeErrors === 1, 'refused handshake');
  t.equal(server.stats.connections, 2);
  t.equal(server.stats.handshakes, 1);
  t.equal(server.stats.requests, 1);
});

t.test('resetStats zeroes counters and keeps open connections', async (t) => {
  const server = await farm(t);
  const agent = await agentFor(t, { keepAlive: true, maxSockets: 1 });
  await request(server, agent, '/hello');
  const stats = server.stats;
  const log = server.requests;
  server.resetStats();
  t.equal(server.stats, stats, 'same object');
  t.equal(server.requests, log, 'same array');
  t.equal(stats.requests, 0);
  t.equal(stats.handshakes, 0);
  t.equal(log.length, 0);
  t.same(stats.perConnection.map((c) => [c.id, c.requests]), [[1, 0]]);
  t.equal(stats.openConnections, 1);
  await request(server, agent, '/hello');
  t.same(stats.perConnection.map((c) => [c.id, c.requests]), [[1, 1]]);
  t.equal(stats.requests, 1);
});
