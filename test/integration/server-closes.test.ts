import t from 'tap';
import { Client } from 'undici';
import { sleep, startHarness } from '../helpers/harness.js';

t.test('server answers Connection: close every 3rd response: no client error, client connection stays open', async (t) => {
  const h = await startHarness({ servers: 2, behavior: { closeEvery: 3 }, pool: { maxConn: 4, minIdle: 1 } });
  const client = new Client(`https://localhost:${h.port}`, { connect: { ca: h.pki.pki.ca.certPem, servername: 'localhost' } });
  let connects = 0;
  client.on('connect', () => connects++);
  t.teardown(async () => {
    await client.close();
    await h.close();
  });
  let ok = 0;
  for (let i = 0; i < 60; i++) {
    const r = await client.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
    const text = await r.body.text();
    if (r.statusCode === 200 && text.startsWith('hello from') && r.headers.connection !== 'close') ok++;
  }
  t.equal(ok, 60, 'every response fine, and none told the client to close');
  t.equal(connects, 1, 'the client connection stayed open');
  const retired = h.servers.reduce((n, s) => n + s.stats.connectionClosedByServer, 0);
  t.ok(retired >= 15, `servers retired ${retired} connections`);
  t.ok(h.handshakes() > retired, 'retired connections were replaced');
});

t.test('server closes idle connections after 1 s; a request about every second for 20 s: no client error', async (t) => {
  const h = await startHarness({ servers: 1, behavior: { idleCloseMs: 1000 }, pool: { maxConn: 4 } });
  t.teardown(() => h.close());
  const client = new Client(`https://localhost:${h.port}`, { connect: { ca: h.pki.pki.ca.certPem, servername: 'localhost' } });
  t.teardown(() => client.close());
  let ok = 0;
  let sent = 0;
  // Intervals straddle the server's 1 s idle limit on both sides.
  const gaps = [950, 1000, 1050, 980, 1020, 1000, 990, 1010, 1030, 970];
  for (let i = 0; i < 20; i++) {
    await sleep(gaps[i % gaps.length]!);
    sent++;
    const r = await client.request({ method: i % 2 ? 'POST' : 'GET', path: i % 2 ? '/echo' : '/hello', headers: { host: 'localhost' }, body: i % 2 ? 'ping' : undefined });
    const text = await r.body.text();
    if (r.statusCode === 200 && text.length > 0) ok++;
  }
  t.equal(ok, sent, 'no client error');
});
