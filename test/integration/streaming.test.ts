import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import t from 'tap';
import { Client } from 'undici';
import { poolTotals, sleep, startHarness, type Harness } from '../helpers/harness.js';

const MiB = 1024 * 1024;

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

function keepAliveClient(h: Harness): Client {
  return new Client(`https://localhost:${h.port}`, { connect: { ca: h.pki.pki.ca.certPem, servername: 'localhost' }, pipelining: 1 });
}

async function* inPieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

for (const engine of ['uws', 'node'] as const) {
  t.test(`${engine}: keep-alive uploads and downloads, byte for byte`, async (t) => {
    const h = await startHarness({ servers: 2, engine, pool: { maxConn: 2 } });
    const client = keepAliveClient(h);
    t.teardown(async () => {
      await client.close();
      await h.close();
    });
    const upload = pattern(MiB);
    const sha = createHash('sha256').update(upload).digest('hex');

    // 1 MiB POST with Content-Length.
    const a = await client.request({ method: 'POST', path: '/echo', headers: { host: 'localhost', 'content-length': String(MiB) }, body: upload });
    const aBody = Buffer.from(await a.body.arrayBuffer());
    t.equal(a.statusCode, 200);
    t.equal(a.headers['x-body-sha256'], sha, 'server received the Content-Length upload intact');
    t.ok(aBody.equals(upload), 'echo came back intact');

    // 1 MiB POST chunked (a stream of 64 KiB pieces, no length).
    const b = await client.request({ method: 'POST', path: '/echo', headers: { host: 'localhost' }, body: Readable.from(inPieces(upload, 64 * 1024)) });
    const bBody = Buffer.from(await b.body.arrayBuffer());
    t.equal(b.statusCode, 200);
    t.equal(b.headers['x-body-sha256'], sha, 'server received the chunked upload intact');
    t.equal(b.headers['x-body-length'], String(MiB));
    t.ok(bBody.equals(upload));

    // 10 MiB downloads, Content-Length and chunked.
    const expected = pattern(10 * MiB);
    for (const q of ['', '?chunked=1']) {
      const r = await client.request({ method: 'GET', path: `/bytes/${10 * MiB}${q}`, headers: { host: 'localhost' } });
      const body = Buffer.from(await r.body.arrayBuffer());
      t.equal(r.statusCode, 200);
      t.equal(body.length, 10 * MiB, `download ${q || 'content-length'} length`);
      t.ok(body.equals(expected), `download ${q || 'content-length'} bytes`);
      if (!q) t.equal(r.headers['content-length'], String(10 * MiB), 'length announced to the client');
    }
    t.equal(h.gateway.listeners[0]!.stats().connections <= 1, true, 'one client connection carried everything');
  });

  t.test(`${engine}: a client that aborts mid-download leaks no backend connection`, async (t) => {
    const h = await startHarness({ servers: 1, engine, pool: { maxConn: 2 } });
    t.teardown(() => h.close());
    for (let i = 0; i < 3; i++) {
      const client = keepAliveClient(h);
      const ac = new AbortController();
      const r = await client.request({ method: 'GET', path: `/bytes/${50 * MiB}`, headers: { host: 'localhost' }, signal: ac.signal });
      let got = 0;
      try {
        for await (const c of r.body) {
          got += (c as Buffer).length;
          if (got > MiB) ac.abort();
        }
      } catch {
        // aborted on purpose
      }
      await client.destroy();
      t.ok(got > MiB && got < 50 * MiB, `client read ${got} bytes then went away`);
    }
    for (let i = 0; i < 100 && poolTotals(h).busy > 0; i++) await sleep(20);
    const totals = poolTotals(h);
    t.equal(totals.busy, 0, 'no backend connection stays leased');
    t.ok(totals.open <= 2, 'connections are idle or retired, never beyond max-conn');
    // The pool still works afterwards.
    const client = keepAliveClient(h);
    const r = await client.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
    t.equal(await r.body.text(), 'hello from s1');
    await client.close();
  });
}
