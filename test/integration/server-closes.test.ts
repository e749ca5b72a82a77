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
  let getsOk = 0;
  let gets = 0;
  const postOutcomes: string[] = [];
  // Intervals straddle the server's 1 s idle limit on both sides.
  const gaps = [950, 1000, 1050, 980, 1020, 1000, 990, 1010, 1030, 970];
  for (let i = 0; i < 20; i++) {
    await sleep(gaps[i % gaps.length]!);
    const post = i % 2 === 1;
    const r = await client.request({ method: post ? 'POST' : 'GET', path: post ? '/echo' : '/hello', headers: { host: 'localhost' }, body: post ? 'ping' : undefined });
    const text = await r.body.text();
    if (!post) {
      gets++;
      if (r.statusCode === 200 && text.length > 0) getsOk++;
    } else {
      postOutcomes.push(r.statusCode === 200 && text.length > 0 ? 'ok' : `${r.statusCode} ${String(r.headers['x-longhaul-error'])}`);
    }
  }
  // GETs are retried on a fresh connection when the server closed the one they rode.
  t.equal(getsOk, gets, 'every GET served');
  // A POST written on a connection the server closes at that very moment (its 1 s idle limit,
  // announced nowhere, is below proven-window) may have been processed: the design never
  // replays it and answers 502 LH_NOT_REPLAYED. That is the only failure allowed.
  const bad = postOutcomes.filter((o) => o !== 'ok' && o !== '502 LH_NOT_REPLAYED');
  t.same(bad, [], `POSTs: 200 or 502 LH_NOT_REPLAYED only (${JSON.stringify(postOutcomes)})`);
});
