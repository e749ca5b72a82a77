/**
 * Churn on the uws engine: many clients from one address doing everything at once — keep-alive,
 * pipelining, split writes, chunked uploads, early answers, rejections, handler errors, abrupt
 * resets. It pins what the uws front must never do under such traffic: crash the process (a
 * connection handle used after uWS freed its socket, a socket closed from inside its own data
 * callback), leak tracked connections or exchanges, or fail to close.
 * Deterministic PRNG (seeded); timing still varies from run to run, so a use-after-free shows up
 * only with some probability per run (raise CHURN_SECONDS / CHURN_LOOPS, vary CHURN_SEED to hunt).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { generateTestPki } from '../../../src/certs/dev-certs.js';
import type { RequestHandler } from '../../../src/core/types.js';
import { startFrontListener } from '../../../src/front/front-listener.js';

const SECONDS = Number(process.env.CHURN_SECONDS ?? 4);
const LOOPS = Number(process.env.CHURN_LOOPS ?? 30);

let seed = Number(process.env.CHURN_SEED ?? 12345);
function rnd(): number {
  // mulberry32
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
}

const handler: RequestHandler = (req, res) => {
  const t0 = req.target;
  if (t0.startsWith('/early')) {
    const b = Buffer.from('early');
    res.start(200, 'OK', [], b.length, false);
    res.write(b);
    res.end();
    return;
  }
  if (t0.startsWith('/nobody')) {
    res.start(204, 'No Content', [], null, true);
    res.end();
    return;
  }
  if (t0.startsWith('/hang')) return;
  if (t0.startsWith('/throw')) throw new Error('on purpose');
  void (async () => {
    let n = 0;
    try {
      if (req.body) for await (const c of req.body) n += c.length;
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, rnd() * 5));
    if (res.aborted) return;
    if (t0.startsWith('/big')) {
      res.start(200, 'OK', [], null, false);
      for (let i = 0; i < 16; i++) {
        if (res.aborted) return;
        if (!res.write(Buffer.alloc(65536, 1))) await new Promise<void>((r) => res.onDrain(r));
      }
      res.end();
      return;
    }
    const b = Buffer.from(JSON.stringify({ id: req.clientConnId, n }));
    res.start(200, 'OK', [], b.length, req.method === 'HEAD');
    if (req.method !== 'HEAD') res.write(b);
    res.end();
  })();
};

const REQUESTS: Array<() => string> = [
  () => `GET /e HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `GET /nobody HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `HEAD /e HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`,
  () => `POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`,
  () => `POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  () => `POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  () => `GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  () => `GET /big HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `GET /hang HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `GET /throw HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `G(T /e HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `GET /e HTTP/1.0\r\n\r\n`,
];

function client(port: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const n = 1 + Math.floor(rnd() * 5);
    let i = 0;
    const send = (): void => {
      if (s.destroyed) return;
      if (i++ >= n) {
        if (rnd() < 0.5) s.destroy();
        else s.end();
        return;
      }
      let data = REQUESTS[Math.floor(rnd() * REQUESTS.length)]!();
      if (rnd() < 0.2) data += REQUESTS[Math.floor(rnd() * REQUESTS.length)]!();
      if (rnd() < 0.3) {
        const cut = Math.floor(rnd() * data.length);
        s.write(data.slice(0, cut));
        setTimeout(() => {
          if (!s.destroyed) s.write(data.slice(cut));
        }, rnd() * 20);
      } else {
        s.write(data);
      }
      setTimeout(send, rnd() * 30);
    };
    s.on('secureConnect', send);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => resolve());
    setTimeout(() => s.destroy(), 3000);
  });
}

const dir = await mkdtemp(join(tmpdir(), 'longhaul-churn-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const pki = await generateTestPki();
await writeFile(join(dir, 'gateway.crt'), pki.gateway.certPem);
await writeFile(join(dir, 'gateway.key'), pki.gateway.keyPem);

t.test('uws engine survives churn with consistent bookkeeping', async (t) => {
  const listener = await startFrontListener(
    {
      name: 'churn',
      bind: { host: '127.0.0.1', port: 0 },
      engine: 'uws',
      tls: { cert: join(dir, 'gateway.crt'), key: join(dir, 'gateway.key'), sniCerts: [] },
      farm: 'x',
      timeouts: { client: 1000, httpRequest: 2000, httpKeepAlive: 1000 },
    },
    handler,
  );
  const started = Date.now();
  let clients = 0;
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (Date.now() - started < SECONDS * 1000) {
        await client(listener.port);
        clients++;
      }
    }),
  );
  t.ok(clients > 100, `${clients} client connections`);
  const deadline = Date.now() + 12_000; // uWS's own timers close what the clients left open
  while (listener.stats().connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(listener.stats().connections, 0, 'every client connection closed');
  const dbg = (listener as unknown as { debugState: () => Record<string, number> }).debugState();
  t.same(dbg, { openSockets: 0, trackedConns: 0, inflight: 0, awaiting: 0 }, 'nothing left tracked');
  t.ok(listener.stats().requests > 100);
  await listener.close();
});
