import t from 'tap';
import { Client } from 'undici';
import type { Engine } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { sleep, startHarness } from '../helpers/harness.js';
import { startNtlmLikeServer } from '../helpers/ntlm-like-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  return cond();
}

for (const engine of ['uws', 'node'] as Engine[]) {
  t.test(`${engine}: NTLM-like connection auth makes the backend connection private to one client connection`, async (t) => {
    const pki = await pkiFiles();
    const ntlm = await startNtlmLikeServer(pki.pki.farm.certPem, pki.pki.farm.keyPem);
    const farm = farmConfig('farm', pki.caFile, [serverConfig('auth', ntlm.port, {}, { maxConn: 4 })]);
    const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey, { engine })], [farm]), silentLogger);
    t.teardown(async () => {
      await gw.stop();
      await ntlm.close();
    });
    const port = gw.listeners[0]!.port;
    const connect = { ca: pki.pki.ca.certPem, servername: 'localhost' };
    const client1 = new Client(`https://localhost:${port}`, { connect, pipelining: 1 });
    const client2 = new Client(`https://localhost:${port}`, { connect, pipelining: 1 });
    t.teardown(() => client2.close());

    const get = async (c: Client, path: string, auth?: string) => {
      const r = await c.request({ method: 'GET', path, headers: { host: 'localhost', ...(auth ? { authorization: auth } : {}) } });
      const body = await r.body.text();
      return { status: r.statusCode, conn: Number(r.headers['x-conn-id']), challenge: String(r.headers['www-authenticate'] ?? ''), body };
    };

    // Client 2 keeps sending while client 1 goes through the three legs.
    let stop = false;
    const client2Conns: number[] = [];
    let client2Errors = 0;
    const background = (async () => {
      for (let i = 0; i < 400 && !stop; i++) {
        const r = await get(client2, `/public?i=${i}`).catch(() => null);
        if (!r || r.status !== 200) client2Errors++;
        else client2Conns.push(r.conn);
      }
    })();

    const leg1 = await get(client1, '/secure?user=alice');
    t.equal(leg1.status, 401, 'first leg: 401');
    t.equal(leg1.challenge, 'NTLM');
    const leg2 = await get(client1, '/secure?user=alice', 'NTLM negotiate');
    t.equal(leg2.status, 401, 'second leg: challenge');
    t.equal(leg2.conn, leg1.conn, 'the challenge came on the same backend connection');
    const privateConn = leg2.conn;
    t.equal(leg2.challenge, `NTLM challenge-${privateConn}`);
    await sleep(50); // client 2 gets a few more requests in between the legs
    const leg3 = await get(client1, '/secure?user=alice', `NTLM response-${privateConn}`);
    t.equal(leg3.status, 200, 'third leg: authenticated');
    t.equal(leg3.conn, privateConn);
    for (let i = 0; i < 5; i++) {
      const r = await get(client1, '/secure');
      t.equal(r.status, 200, `follow-up ${i}: still authenticated (no new handshake)`);
      t.equal(r.conn, privateConn, `follow-up ${i}: on the private connection`);
    }
    stop = true;
    await background;
    t.equal(client2Errors, 0, 'client 2 saw no error');
    t.ok(client2Conns.length >= 5, `client 2 ran concurrently (${client2Conns.length} requests)`);
    t.notOk(client2Conns.includes(privateConn), "client 2's requests never landed on client 1's connection");
    t.equal(ntlm.wrongConnection, 0, 'no auth leg landed on another connection');
    t.same(ntlm.requests.get(privateConn)!.filter((p) => p.startsWith('/public')), [], 'the private connection carried only client 1 requests');
    const pool = gw.farms.get('farm')!.servers[0]!.pools()[0]!;
    t.equal(pool.snapshot().private, 1, 'stats show one private connection');

    await client1.close();
    t.ok(await until(() => ntlm.closedByClient.includes(privateConn)), 'closing client 1 made the gateway close that backend connection');
    t.equal(pool.snapshot().private, 0, 'no private connection left');
    t.equal(pool.counters.madePrivate, 1);
  });
}

t.test('private: true farm: each client connection keeps its own backend connection, closed with it', async (t) => {
  const h = await startHarness({ servers: 1, farm: { private: true }, pool: { maxConn: 8 } });
  t.teardown(() => h.close());
  const connect = { ca: h.pki.pki.ca.certPem, servername: 'localhost' };
  const clients = [0, 1, 2].map(() => new Client(`https://localhost:${h.port}`, { connect, pipelining: 1 }));
  const seen: number[][] = [[], [], []];
  for (let round = 0; round < 4; round++) {
    for (let c = 0; c < 3; c++) {
      const r = await clients[c]!.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
      await r.body.text();
      seen[c]!.push(Number(r.headers['x-conn-id']));
    }
  }
  for (let c = 0; c < 3; c++) t.equal(new Set(seen[c]).size, 1, `client ${c}: one backend connection for its 4 requests`);
  t.equal(new Set(seen.map((s) => s[0])).size, 3, 'three clients, three backend connections');
  await clients[0]!.close();
  const first = seen[0]![0]!;
  t.ok(await until(() => h.servers[0]!.stats.perConnection.find((r) => r.id === first)?.closedBy === 'client'), 'client 0 closed: its backend connection was closed by the gateway');
  const still = h.servers[0]!.stats.perConnection.filter((r) => r.closedBy === null).map((r) => r.id);
  t.ok(still.includes(seen[1]![0]!) && still.includes(seen[2]![0]!), 'the other two stay open');
  await Promise.all(clients.slice(1).map((c) => c.close()));
});
