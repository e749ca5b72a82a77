import t, { type Test } from 'tap';
import { Client } from 'undici';
import type { HttpReuse } from '../../src/config/config-types.js';
import { sleep, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Each `http-reuse` mode's rule, shown by which backend connection (the farm server's
 * x-conn-id) each request used. One server, so every request meets the same pool.
 */
async function setup(t: Test, mode: HttpReuse): Promise<{ h: Harness; client: () => Client; send: (c: Client) => Promise<number> }> {
  const h = await startHarness({ servers: 1, farm: { httpReuse: mode }, pool: { maxConn: 8 } });
  const clients: Client[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await h.close();
  });
  const connect = { ca: h.pki.pki.ca.certPem, servername: 'localhost' };
  return {
    h,
    client: () => {
      const c = new Client(`https://localhost:${h.port}`, { connect, pipelining: 1 });
      clients.push(c);
      return c;
    },
    send: async (c) => {
      const r = await c.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
      // The pool takes the connection back in a microtask after the response: let it.
      await sleep(5);
      return Number(r.headers['x-conn-id']);
    },
  };
}


t.test('http-reuse always: a new client connection\'s first request rides the idle connection', async (t) => {
  const { h, client, send } = await setup(t, 'always');
  const a = await send(client());
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await send(client()));
  t.same(ids, [a, a, a, a, a], 'five new client connections, one backend connection');
  t.equal(h.handshakes(), 1);
});

t.test('http-reuse safe: first requests go on new connections, later ones may take any', async (t) => {
  const { h, client, send } = await setup(t, 'safe');
  const A = client();
  const x = await send(A);
  const B = client();
  const y = await send(B);
  t.not(y, x, "B's first request did not take A's idle connection");
  const firsts = [];
  for (let i = 0; i < 3; i++) firsts.push(await send(client()));
  t.equal(new Set([x, y, ...firsts]).size, 5, 'every first request opened its own connection');
  t.equal(h.handshakes(), 5);
  // A's second request is not a first request: it takes the most recently used idle one,
  // which some other client's connection opened.
  const again = await send(A);
  t.not(again, x, "A's later request rode a connection another client's first request opened");
  t.equal(h.handshakes(), 5, 'no new connection for later requests');
});

t.test('http-reuse aggressive: first requests only ride connections already reused once', async (t) => {
  const { h, client, send } = await setup(t, 'aggressive');
  const A = client();
  const x = await send(A); // x: 1 exchange
  const B = client();
  const y = await send(B); // x only used once: B gets a new one
  t.not(y, x, 'a connection used once is not offered to a first request');
  const a2 = await send(A); // later request: MRU idle = y, now used twice
  t.equal(a2, y, "A's later request took the most recently used connection");
  const C = client();
  const z = await send(C);
  t.equal(z, y, 'a first request rides a connection that has been reused');
  t.equal(h.handshakes(), 2);
});

t.test('http-reuse never: each client connection keeps its own backend connection; nothing is shared', async (t) => {
  const { h, client, send } = await setup(t, 'never');
  const A = client();
  const B = client();
  const a = [await send(A), await send(A), await send(A)];
  const b = [await send(B), await send(B), await send(B)];
  t.equal(new Set(a).size, 1, 'A: one connection');
  t.equal(new Set(b).size, 1, 'B: one connection');
  t.not(a[0], b[0], 'A and B never share');
  await A.close();
  const C = client();
  const c = await send(C);
  t.notOk([a[0], b[0]].includes(c), "C got a new connection, not A's (closed with A) nor B's");
  t.equal(h.handshakes(), 3);
  for (let i = 0; i < 50 && h.servers[0]!.stats.perConnection.find((r) => r.id === a[0])?.closedBy !== 'client'; i++) await sleep(20);
  t.equal(h.servers[0]!.stats.perConnection.find((r) => r.id === a[0])?.closedBy, 'client', "A's backend connection was closed by the gateway when A closed");
});
