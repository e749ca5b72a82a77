/**
 * Chaos finding F8 (test/chaos/FINDINGS.md): under chaos a request sometimes got ANOTHER
 * request's response. Whatever the path, the backend codec now makes it structural (issue 14
 * item 1, src/pool/http1-codec.ts): once an exchange settled — server timeout, client abort,
 * a response followed by more bytes — nothing later reaches its handler, and its connection is
 * destroyed at once (never released idle, never given to the next request). Each case below
 * runs a second request on the same pool and checks it gets its OWN response, by body.
 */
import t, { type Test } from 'tap';
import type tls from 'node:tls';
import { silentLogger } from '../../src/core/logger.js';
import { runExchange, type ExchangeError } from '../../src/proxy/exchange.js';
import { ServerPool } from '../../src/pool/server-pool.js';
import { createFarmTls } from '../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../src/tls/tls-session-cache.js';
import { CollectingSink } from '../helpers/collecting-sink.js';
import { poolConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startScriptedServer, type ScriptedRequest, type ScriptedServer } from '../helpers/scripted-tls-server.js';
import { until } from '../helpers/until.js';

const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
/** The path names the request; the server answers with it as the body. */
const nameOf = (r: ScriptedRequest): string => r.head.split(' ')[1]!.slice(1);

async function setup(t: Test, answer: (s: tls.TLSSocket, r: ScriptedRequest, srv: ScriptedServer) => void): Promise<{ server: ScriptedServer; pool: ServerPool }> {
  const f = await pkiFiles();
  const server = await startScriptedServer(f.pki.farm.certPem, f.pki.farm.keyPem, answer);
  const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
  const pool = new ServerPool({
    key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
    pool: poolConfig({ maxConn: 1 }), connectTimeoutMs: 2000, queueTimeoutMs: 5000, log: silentLogger,
  });
  t.teardown(async () => {
    await pool.close();
    await server.close();
  });
  return { server, pool };
}

async function get(pool: ServerPool, name: string, serverTimeoutMs = 5000, sink = new CollectingSink()): Promise<{ body: string; conn: number; err: ExchangeError | null; alive: boolean }> {
  const lease = await pool.lease({ idempotent: true });
  try {
    const r = await runExchange(lease, { method: 'GET', path: `/${name}`, headers: ['host', 'farm.test'], body: null, serverTimeoutMs }, sink);
    pool.release(lease.conn, r.reusable);
    return { body: Buffer.concat(sink.chunks).toString(), conn: lease.conn.id, err: null, alive: lease.conn.alive };
  } catch (err) {
    // Checked before the release: the codec already destroyed the connection.
    const alive = lease.conn.alive;
    pool.release(lease.conn, false);
    return { body: Buffer.concat(sink.chunks).toString(), conn: lease.conn.id, err: err as ExchangeError, alive };
  }
}

t.test('a response that comes after the gateway timed out never reaches the next request', async (t) => {
  const held: Array<() => void> = [];
  const { server, pool } = await setup(t, (s, r) => {
    const name = nameOf(r);
    if (name === 'a') held.push(() => s.write(ok('a')));
    else {
      // The late answer to `a` goes out first, on a's connection if it is still open.
      for (const h of held.splice(0)) h();
      s.write(ok(name));
    }
  });
  const a = await get(pool, 'a', 150);
  t.equal(a.err?.code, 'LH_SERVER_TIMEOUT');
  t.equal(a.alive, false, 'the timed-out connection is dead at once');
  const b = await get(pool, 'b');
  t.equal(b.err, null);
  t.equal(b.body, 'b', 'b got its own response');
  t.not(b.conn, a.conn, 'on another connection');
  t.equal(server.connections, 2);
});

t.test('two responses to one request: the second is never the next request\'s', async (t) => {
  for (const split of [false, true]) {
    t.test(split ? 'in two segments' : 'in one segment', async (t) => {
      let extra: (() => void) | null = null;
      const { server, pool } = await setup(t, (s, r) => {
        const name = nameOf(r);
        if (name !== 'a') return void s.write(ok(name));
        if (split) {
          s.write(ok('a'));
          extra = () => s.write(ok('ghost'));
        } else s.write(ok('a') + ok('ghost'));
      });
      const a = await get(pool, 'a');
      t.equal(a.body, 'a');
      if (split) {
        // The second response arrives while the connection is idle: retired, never parsed.
        extra!();
        await until(() => pool.snapshot().idle === 0, 'the idle connection was retired');
      } else t.equal(a.alive, false, 'bytes after the response in its segment: destroyed at once');
      const b = await get(pool, 'b');
      t.equal(b.body, 'b', 'b got its own response, not the ghost');
      t.not(b.conn, a.conn);
      t.equal(server.connections, 2);
    });
  }
});

t.test('a client that aborts mid-response: the rest of that response never reaches the next request', async (t) => {
  let rest: (() => void) | null = null;
  const { server, pool } = await setup(t, (s, r) => {
    const name = nameOf(r);
    if (name !== 'a') return void s.write(ok(name));
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf-');
    rest = () => s.write('done!' + ok('ghost'));
  });
  const sink = new CollectingSink();
  const lease = await pool.lease({ idempotent: true });
  const pending = runExchange(lease, { method: 'GET', path: '/a', headers: ['host', 'farm.test'], body: null, serverTimeoutMs: 5000 }, sink).catch((e: ExchangeError) => e);
  await until(() => sink.chunks.length > 0, 'the first half arrived');
  sink.abort();
  const err = await pending;
  t.equal((err as ExchangeError).code, 'LH_CLIENT_ABORTED');
  t.equal(lease.conn.alive, false, 'destroyed at once');
  pool.release(lease.conn, false);
  rest!();
  const b = await get(pool, 'b');
  t.equal(b.body, 'b');
  t.equal(sink.chunks.length, 1, 'the aborted sink got nothing more');
  t.equal(server.connections, 2);
});
