import t from 'tap';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import { startHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

/**
 * Bug (issue 11 item 6): the lease queue had no bound and kept waiters whose client had gone.
 * Fixed: `pool.max-queue` per server (HAProxy maxqueue; 0 = unlimited) answers 503
 * LH_QUEUE_FULL at once when full, and a waiter leaves the queue as soon as its client aborts
 * (the lease takes the request's AbortSignal).
 */

interface Sent {
  req: ClientRequest;
  done: Promise<{ status: number; error: string | undefined }>;
}

function send(h: Harness, path: string): Sent {
  let req!: ClientRequest;
  const done = new Promise<{ status: number; error: string | undefined }>((resolve) => {
    req = https.get({ host: '127.0.0.1', port: h.port, path, agent: false, ca: h.pki.pki.ca.certPem, servername: 'localhost', headers: { host: 'farm.test' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-longhaul-error'] as string | undefined }));
    });
    req.on('error', () => resolve({ status: 0, error: 'client aborted' }));
  });
  return { req, done };
}

const pool = (h: Harness) => h.gateway.farms.get('farm')!.servers[0]!.pools()[0]!;

t.test('max-queue 2: a third waiter is answered 503 LH_QUEUE_FULL at once and never reaches the server', async (t) => {
  const h = await startHarness({ servers: 1, pool: { maxConn: 1, maxQueue: 2 } });
  t.teardown(() => h.close());
  const busy = send(h, '/slow/1500');
  await until(() => pool(h).busyCount === 1, 'one busy connection');
  const queued = [send(h, '/slow/10'), send(h, '/slow/10')];
  await until(() => pool(h).queueLength === 2, 'two waiters');
  const refused = await Promise.all([0, 1, 2].map(() => send(h, '/hello').done));
  t.equal(pool(h).busyCount, 1, 'the refusals came while the first request was still running');
  t.strictSame(refused, [0, 1, 2].map(() => ({ status: 503, error: 'LH_QUEUE_FULL' })), 'three 503 LH_QUEUE_FULL');
  const rest = await Promise.all([busy.done, ...queued.map((q) => q.done)]);
  t.strictSame(rest.map((r) => r.status), [200, 200, 200], 'the busy and the two queued requests are served');
  const s = pool(h).snapshot();
  t.equal(s.counters.queueFull, 3, 'queueFull counter');
  t.equal(h.servers[0]!.stats.requests, 3, 'the server saw only the 3 admitted requests');
  t.equal(h.gateway.farms.get('farm')!.servers[0]!.state, 'UP', 'a full queue is not the server\'s fault');
});

t.test('clients that abort while queued leave the queue at once', async (t) => {
  const h = await startHarness({ servers: 1, pool: { maxConn: 1 } });
  t.teardown(() => h.close());
  const busy = send(h, '/slow/3000');
  await until(() => pool(h).busyCount === 1, 'one busy connection');
  const waiters = [0, 1, 2, 3, 4].map(() => send(h, '/hello'));
  await until(() => pool(h).queueLength === 5, 'five waiters');
  for (const w of waiters) w.req.destroy();
  await until(() => pool(h).queueLength === 0, 'queue emptied by the aborts', 100);
  t.equal(pool(h).busyCount, 1, 'the queue emptied while the one connection was still busy (nobody was served)');
  t.equal(pool(h).snapshot().counters.queueAborted, 5, 'queueAborted counter');
  t.equal((await busy.done).status, 200, 'the running request is served');
  t.equal(h.servers[0]!.stats.requests, 1, 'no aborted request reached the server');
  t.equal(pool(h).snapshot().counters.leases, 1, 'one lease in all');
});
