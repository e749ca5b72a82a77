import t from 'tap';
import https from 'node:https';
import { runConcurrently, sleep, startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

/**
 * Bug (issue 11 item 3): with `sni: host`, names sharing one server's max-conn thrashed: a
 * request of one name closed another name's idle connection and opened its own whenever the
 * budget was full, even when one of its own connections was about to be released (112 backend
 * handshakes for 360 requests over two names sharing max-conn 4), and a release only woke its own
 * key's waiters, so a waiter of a name with no connection of its own was forgotten until its
 * queue timeout. Fixed (design "Shared budgets hand over by key", handover-policy.ts): a released
 * connection goes first to a waiter of its own key; another key's idle connection is taken over
 * only when that shortens the wait; every release or close wakes every key's waiters.
 */

function get(h: Harness, agent: https.Agent, name: string, path: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: h.port, path, agent, ca: h.pki.pki.ca.certPem, servername: 'localhost', headers: { host: name } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

const pools = (h: Harness) => h.gateway.farms.get('farm')!.servers[0]!.pools().map((p) => p.snapshot());

t.test('two names share max-conn 4: 360 requests cost about the connections the load needs, no waiter times out', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' } }, pool: { maxConn: 4 }, farm: { timeouts: { connect: 5000, server: 60_000, queue: 60_000 } } });
  t.teardown(() => h.close());
  const agents = Array.from({ length: 8 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  t.teardown(() => agents.forEach((a) => a.destroy()));
  let ok = 0;
  // 8 clients, 4 per name, 45 requests each, a short pause after each (the load shape of
  // interactive clients: one name's connections sit idle for a moment while the other's requests
  // arrive): more demand than the 4 connections, in bursts.
  await runConcurrently(8, 8, async (k) => {
    const name = k % 2 ? 'b.test' : 'a.test';
    for (let i = 0; i < 45; i++) {
      if ((await get(h, agents[k]!, name, i % 3 ? '/hello' : '/slow/5')) === 200) ok++;
      await sleep((k + i) % 4);
    }
  });
  const snaps = pools(h);
  const sum = (f: (s: (typeof snaps)[number]) => number) => snaps.reduce((n, s) => n + f(s), 0);
  const handshakes = h.servers[0]!.stats.handshakes;
  t.equal(ok, 360, 'every request served 200');
  t.equal(sum((s) => s.counters.queueTimeouts), 0, 'queue timeouts');
  t.equal(sum((s) => s.counters.leases), 360, 'every request (every waiter among them) got a lease');
  t.ok(handshakes <= 8, `${handshakes} backend handshakes for 360 requests (max-conn 4; main made 112)`);
  t.comment(`handshakes ${handshakes}, handovers ${sum((s) => s.counters.handovers)}, queued ${sum((s) => s.counters.queued)}`);
});

t.test('a waiter of a name with no connection is woken by a release of the other name', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' } }, pool: { maxConn: 2 }, farm: { timeouts: { connect: 5000, server: 60_000, queue: 20_000 } } });
  t.teardown(() => h.close());
  const agents = Array.from({ length: 3 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  t.teardown(() => agents.forEach((a) => a.destroy()));
  // a.test holds both connections (busy), then a b.test request queues behind them.
  const a = [get(h, agents[0]!, 'a.test', '/slow/300'), get(h, agents[1]!, 'a.test', '/slow/300')];
  await until(() => pools(h).reduce((n, s) => n + s.busy, 0) === 2, 'a.test holds max-conn');
  const b = get(h, agents[2]!, 'b.test', '/hello');
  await until(() => pools(h).reduce((n, s) => n + s.queue, 0) === 1, 'b.test waits');
  t.strictSame(await Promise.all(a), [200, 200], 'a.test served');
  t.equal(await b, 200, 'b.test served after a.test released (not after its 20 s queue timeout)');
  const snaps = pools(h);
  t.equal(snaps.reduce((n, s) => n + s.counters.queueTimeouts, 0), 0, 'queue timeouts');
  t.equal(snaps.find((s) => s.key.includes(':b.test:'))!.counters.handovers, 1, 'b.test took over one idle a.test connection');
  t.ok(snaps.reduce((n, s) => n + s.open, 0) <= 2, 'still within max-conn');
  t.equal(snaps.reduce((n, s) => n + s.counters.retiredIdle, 0), 0, 'no idle purge had to free a connection for it');
});

t.test('a name whose waiters never run out does not starve a name with no connection', async (t) => {
  const h = await startHarness({ servers: 1, farmTls: { sni: { kind: 'host' } }, pool: { maxConn: 2 }, farm: { timeouts: { connect: 5000, server: 60_000, queue: 20_000 } } });
  t.teardown(() => h.close());
  const agents = Array.from({ length: 5 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  t.teardown(() => agents.forEach((a) => a.destroy()));
  // Four a.test clients keep a.test's queue full on both connections.
  let aDone = 0;
  let aDoneWhenBServed = -1;
  let stop = false;
  const a = runConcurrently(4, 4, async (k) => {
    for (let i = 0; i < 60 && !stop; i++) if ((await get(h, agents[k]!, 'a.test', '/slow/20')) === 200) aDone++;
  });
  await until(() => pools(h).reduce((n, s) => n + s.queue, 0) >= 2, 'a.test has waiters');
  const b = await get(h, agents[4]!, 'b.test', '/hello');
  aDoneWhenBServed = aDone;
  stop = true;
  await a;
  t.equal(b, 200, 'b.test served');
  t.ok(aDoneWhenBServed < aDone, `b.test was served while a.test still had requests running (${aDoneWhenBServed} of ${aDone} a.test requests done then)`);
  const snaps = pools(h);
  t.equal(snaps.reduce((n, s) => n + s.counters.queueTimeouts, 0), 0, 'queue timeouts');
  t.equal(snaps.find((s) => s.key.includes(':a.test:'))!.counters.handedOver, 1, 'one a.test connection was closed to make room for b.test');
});
