/**
 * The backend HTTP/1.1 codec (src/pool/http1-codec.ts, issue 14 item 1) on real TLS against a
 * scripted server: framing both ways, 1xx/HEAD/204/304, close-delimited bodies, the reuse
 * verdict, and the exchange token — no callback after an exchange settled, a connection that
 * did not end cleanly destroyed at once.
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import t, { type Test } from 'tap';

import { LonghaulError } from '../../../src/core/errors.js';
import { RequestBody } from '../../../src/core/request-body.js';
import { Http1Codec, SocketReadBuffer, type Http1Handler } from '../../../src/pool/http1-codec.js';
import { pkiFiles } from '../../helpers/pki-files.js';
import { startScriptedServer, type ScriptedRequest, type ScriptedServer } from '../../helpers/scripted-tls-server.js';
import { until } from '../../helpers/until.js';

class Recorder implements Http1Handler {
  status = 0;
  headers: string[] = [];
  chunks: Buffer[] = [];
  ends = 0;
  errors: LonghaulError[] = [];
  /** Callbacks after the first end/error (must stay 0). */
  late = 0;
  heads = 0;
  pauseNext = false;
  settled = false;
  onActivity(): void {
    if (this.settled) this.late++;
  }
  onResponseHead(status: number, raw: string[]): void {
    if (this.settled) this.late++;
    this.heads++;
    this.status = status;
    this.headers = raw;
  }
  onResponseData(chunk: Buffer): boolean {
    if (this.settled) this.late++;
    this.chunks.push(chunk);
    if (this.pauseNext) {
      this.pauseNext = false;
      return false;
    }
    return true;
  }
  onResponseEnd(): void {
    if (this.settled) this.late++;
    this.settled = true;
    this.ends++;
  }
  onError(err: LonghaulError): void {
    if (this.settled) this.late++;
    this.settled = true;
    this.errors.push(err);
  }
  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  get done(): boolean {
    return this.settled;
  }
}

interface Conn {
  socket: tls.TLSSocket;
  codec: Http1Codec;
  idleCloses: string[];
}

let mode: 'data' | 'onread' = 'data';

async function setup(t: Test, answer: (s: tls.TLSSocket, r: ScriptedRequest, srv: ScriptedServer) => void): Promise<{ server: ScriptedServer; open: () => Promise<Conn> }> {
  const f = await pkiFiles();
  const server = await startScriptedServer(f.pki.farm.certPem, f.pki.farm.keyPem, answer);
  const sockets: tls.TLSSocket[] = [];
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
  });
  const open = async (): Promise<Conn> => {
    const reader = mode === 'onread' ? new SocketReadBuffer() : undefined;
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'farm.test', ca: f.pki.ca.certPem, ...(reader ? ({ onread: reader } as object) : {}) });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
    const idleCloses: string[] = [];
    const codec = new Http1Codec(socket, { onIdleClose: (why) => idleCloses.push(why) }, reader);
    return { socket, codec, idleCloses };
  };
  return { server, open };
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;

// Every case runs on both ways of reading: 'data' events, and Node's onread into one buffer (the pool's way).
for (const m of ['data', 'onread'] as const) {
t.test(`reading by ${m}`, async (t) => {
  mode = m;
  t.test('two GETs on one connection: one head string each, reusable after a framed response', async (t) => {
    const { server, open } = await setup(t, (s, r) => s.write(ok(`r${r.index}`, 'X-Multi: a\r\nX-Multi: b\r\n')));
    const c = await open();
    for (let i = 0; i < 2; i++) {
      const h = new Recorder();
      c.codec.start({ method: 'GET', path: `/p${i}?q=1`, headers: ['host', 'farm.test', 'x-v', 'caf\xe9'], body: null }, h);
      await until(() => h.done, 'response ended');
      t.equal(h.status, 200);
      t.equal(h.body, `r${i}`);
      t.same(h.headers.slice(2), ['X-Multi', 'a', 'X-Multi', 'b'], 'repeated headers stay separate, in order');
      t.ok(c.codec.reusable, 'reusable after a cleanly framed exchange');
    }
    t.equal(server.connections, 1);
    t.equal(server.requests[0]!.raw.toString('latin1'), 'GET /p0?q=1 HTTP/1.1\r\nhost: farm.test\r\nx-v: caf\xe9\r\n\r\n', 'the head exactly as given, latin1');
  });

  t.test('request bodies: Content-Length streamed as is, unknown length chunked, empty POST gets content-length: 0', async (t) => {
    const { server, open } = await setup(t, (s, r) => s.write(ok(createHash('sha256').update(r.body).digest('hex'))));
    const c = await open();
    const payload = Buffer.alloc(300_000, 'x');
    for (const declared of [true, false]) {
      const rb = new RequestBody(declared ? payload.length : null, { pause() {}, resume() {} });
      const h = new Recorder();
      c.codec.start({ method: 'POST', path: '/u', headers: declared ? ['host', 'h', 'content-length', String(payload.length)] : ['host', 'h'], body: rb.reader() }, h);
      for (let i = 0; i < payload.length; i += 50_000) rb.push(payload.subarray(i, i + 50_000));
      rb.end();
      await until(() => h.done, 'response ended');
      t.equal(h.body, createHash('sha256').update(payload).digest('hex'), `the server got the exact body (${declared ? 'content-length' : 'chunked'})`);
      t.ok(c.codec.reusable);
    }
    t.match(server.requests[1]!.head, /\r\ntransfer-encoding: chunked$/);
    const h = new Recorder();
    c.codec.start({ method: 'POST', path: '/e', headers: ['host', 'h'], body: null }, h);
    await until(() => h.done, 'response ended');
    t.match(server.requests[2]!.head, /\r\ncontent-length: 0$/);
  });

  t.test('1xx skipped; HEAD, 204 and 304 bodyless and reusable', async (t) => {
    const { open } = await setup(t, (s, r) => {
      if (r.index === 0) s.write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' + ok('final'));
      else if (r.index === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
      else if (r.index === 2) s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n');
    });
    const c = await open();
    for (const [method, status, body] of [['GET', 200, 'final'], ['HEAD', 200, ''], ['GET', 204, ''], ['GET', 304, '']] as const) {
      const h = new Recorder();
      c.codec.start({ method, path: '/', headers: ['host', 'h'], body: null }, h);
      await until(() => h.done, 'response ended');
      t.equal(h.heads, 1, 'one final head');
      t.equal(h.status, status);
      t.equal(h.body, body);
      t.ok(c.codec.reusable, `${method} ${status} reusable`);
    }
  });

  t.test('close-delimited body ends at FIN; Connection: close is not reusable', async (t) => {
    const { open } = await setup(t, (s, r) => {
      if (r.head.startsWith('GET /fin')) s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
      else s.write(ok('bye', 'Connection: close\r\n'));
    });
    const a = await open();
    const h = new Recorder();
    a.codec.start({ method: 'GET', path: '/fin', headers: ['host', 'h'], body: null }, h);
    await until(() => h.done, 'response ended');
    t.equal(h.ends, 1);
    t.equal(h.body, 'until the end');
    t.notOk(a.codec.reusable);
    const b = await open();
    const h2 = new Recorder();
    b.codec.start({ method: 'GET', path: '/close', headers: ['host', 'h'], body: null }, h2);
    await until(() => h2.done, 'response ended');
    t.equal(h2.body, 'bye');
    t.notOk(b.codec.reusable, 'Connection: close');
    t.throws(() => b.codec.start({ method: 'GET', path: '/again', headers: ['host', 'h'], body: null }, new Recorder()), { code: 'LH_CONN_CLOSED_BEFORE_RESPONSE' }, 'the codec refuses another exchange itself');
  });

  t.test('truncated body, garbage, unasked upgrade: one onError with a stable code, socket destroyed', async (t) => {
    const { open } = await setup(t, (s, r) => {
      if (r.head.startsWith('GET /short')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      else if (r.head.startsWith('GET /junk')) s.write('SSH-2.0-OpenSSH_9.2\r\n\r\n');
      else s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n');
    });
    for (const [path, code] of [['/short', 'LH_CONN_CLOSED_BEFORE_RESPONSE'], ['/junk', 'LH_BAD_RESPONSE'], ['/up', 'LH_BAD_RESPONSE']] as const) {
      const c = await open();
      const h = new Recorder();
      c.codec.start({ method: 'GET', path, headers: ['host', 'h'], body: null }, h);
      await until(() => h.done, 'exchange settled');
      t.equal(h.errors.length, 1, `${path}: one error`);
      t.equal(h.errors[0]!.code, code, `${path}: ${code}`);
      t.equal(h.ends, 0);
      t.ok(c.socket.destroyed, 'destroyed at once');
      t.notOk(c.codec.reusable);
    }
  });

  t.test('a request the codec will not write is refused before any byte: LH_CLIENT_BAD_REQUEST', async (t) => {
    const { server, open } = await setup(t, (s) => s.write(ok('x')));
    const c = await open();
    const written = c.socket.bytesWritten;
    for (const headers of [['host', 'h', 'x-bad', 'a\r\nInjected: 1'], ['bad name', 'v'], ['content-length', '5']]) {
      t.throws(() => c.codec.start({ method: 'GET', path: '/', headers, body: null }, new Recorder()), { code: 'LH_CLIENT_BAD_REQUEST' });
    }
    t.throws(() => c.codec.start({ method: 'G T', path: '/', headers: [], body: null }, new Recorder()), { code: 'LH_CLIENT_BAD_REQUEST' });
    t.throws(() => c.codec.start({ method: 'GET', path: '/a b', headers: [], body: null }, new Recorder()), { code: 'LH_CLIENT_BAD_REQUEST' });
    t.equal(c.socket.bytesWritten, written, 'nothing written');
    const h = new Recorder();
    c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
    await until(() => h.done, 'the codec still works');
    t.equal(h.status, 200);
    t.equal(server.requests.length, 1);
    // A body shorter than its Content-Length: the client's fault, connection destroyed.
    const rb = new RequestBody(null, { pause() {}, resume() {} });
    const h2 = new Recorder();
    c.codec.start({ method: 'POST', path: '/', headers: ['host', 'h', 'content-length', '10'], body: rb.reader() }, h2);
    rb.push(Buffer.from('abc'));
    rb.end();
    await until(() => h2.done, 'settled');
    t.equal(h2.errors[0]?.code, 'LH_CLIENT_BAD_REQUEST');
    t.ok(c.socket.destroyed);
  });

  t.test('response back-pressure: a false from onResponseData pauses the socket until resume()', async (t) => {
    const big = 'y'.repeat(2_000_000);
    const { open } = await setup(t, (s) => s.write(ok(big)));
    const c = await open();
    const h = new Recorder();
    h.pauseNext = true;
    c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
    await until(() => h.chunks.length > 0, 'first chunk');
    if (mode === 'data') await until(() => c.socket.isPaused(), 'socket paused');
    // onread: reading stops after what TLS already decrypted (a few 16 KiB reads).
    await new Promise((r) => setTimeout(r, 150));
    const seen = h.chunks.length;
    await new Promise((r) => setTimeout(r, 100));
    t.equal(h.chunks.length, seen, 'no chunk while paused');
    const held = Buffer.concat(h.chunks).length;
    t.ok(held < 256 * 1024, `${held} bytes delivered before resume (bounded, of ${big.length})`);
    c.codec.resume();
    await until(() => h.done, 'response ended after resume');
    t.equal(h.body.length, big.length, 'every byte');
    t.ok(c.codec.reusable);
  });

  t.test('exchange token: nothing reaches a settled exchange, unclean endings destroy at once', async (t) => {
    t.test('server answers after the gateway gave up (abort): no callback, socket destroyed', async (t) => {
      let answerLate: (() => void) | null = null;
      const { open } = await setup(t, (s) => {
        answerLate = () => s.write(ok('late'));
      });
      const c = await open();
      const h = new Recorder();
      c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
      await until(() => answerLate !== null, 'request reached the server');
      c.codec.abort('server timeout');
      t.ok(c.socket.destroyed, 'destroyed at once');
      answerLate!();
      await new Promise((r) => setTimeout(r, 100));
      t.equal(h.heads + h.chunks.length + h.ends + h.errors.length, 0, 'no callback at all after abort');
      t.notOk(c.codec.reusable);
      t.throws(() => c.codec.start({ method: 'GET', path: '/', headers: [], body: null }, new Recorder()), { code: 'LH_CONN_CLOSED_BEFORE_RESPONSE' }, 'never usable again');
    });

    t.test('two responses to one request in one segment: the first is delivered, the connection destroyed', async (t) => {
      const { open } = await setup(t, (s) => s.write(ok('first') + ok('second')));
      const c = await open();
      const h = new Recorder();
      c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
      await until(() => h.done, 'settled');
      t.equal(h.body, 'first');
      t.equal(h.heads, 1);
      t.equal(h.ends, 1);
      t.notOk(c.codec.reusable, 'not reusable');
      t.ok(c.socket.destroyed, 'destroyed');
      t.equal(h.late, 0);
    });

    t.test('two responses in two segments: the second arrives while idle and retires the connection', async (t) => {
      let second: (() => void) | null = null;
      const { open } = await setup(t, (s) => {
        s.write(ok('first'));
        second = () => s.write(ok('second'));
      });
      const c = await open();
      const h = new Recorder();
      c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
      await until(() => h.done, 'settled');
      t.ok(c.codec.reusable, 'clean so far');
      second!();
      await until(() => c.idleCloses.length === 1, 'idle close reported');
      t.ok(c.socket.destroyed);
      t.notOk(c.codec.reusable);
      t.equal(h.late, 0, 'the second response never reached the first handler');
      t.equal(h.body, 'first');
    });

    t.test('bytes after a complete response in the same segment (not a response): destroyed', async (t) => {
      const { open } = await setup(t, (s) => s.write(ok('first') + 'X'));
      const c = await open();
      const h = new Recorder();
      c.codec.start({ method: 'GET', path: '/', headers: ['host', 'h'], body: null }, h);
      await until(() => h.done, 'settled');
      t.equal(h.body, 'first');
      t.notOk(c.codec.reusable);
      t.ok(c.socket.destroyed);
    });

    t.test('a server answering before the body was sent: response delivered, connection destroyed, body pump stops', async (t) => {
      const { server: serverRef, open } = await setup(t, () => {});
      const c = await open();
      const rb = new RequestBody(100, { pause() {}, resume() {} });
      const h = new Recorder();
      c.codec.start({ method: 'POST', path: '/', headers: ['host', 'h', 'content-length', '100'], body: rb.reader() }, h);
      rb.push(Buffer.alloc(10, 'a'));
      await until(() => serverRef.sockets.length === 1 && c.socket.bytesWritten > 0, 'head and first chunk written');
      serverRef.sockets[0]!.write(ok('early'));
      await until(() => h.done, 'settled');
      t.equal(h.body, 'early', 'the response stands');
      t.equal(h.ends, 1);
      t.notOk(c.codec.reusable, 'not reusable: the body was not all sent');
      t.ok(c.socket.destroyed, 'destroyed at once');
      rb.push(Buffer.alloc(90, 'a'));
      rb.end();
      await new Promise((r) => setTimeout(r, 50));
      t.equal(h.late, 0, 'the rest of the body reaches no handler');
    });

    t.test('a discarded chunked body is never framed as complete', async (t) => {
      const { server, open } = await setup(t, () => {});
      const c = await open();
      const rb = new RequestBody(null, { pause() {}, resume() {} });
      const h = new Recorder();
      c.codec.start({ method: 'POST', path: '/', headers: ['host', 'h'], body: rb.reader() }, h);
      rb.push(Buffer.from('part'));
      await until(() => server.sockets.length === 1 && c.socket.bytesWritten > 0, 'head and first chunk written');
      rb.discard();
      await new Promise((r) => setTimeout(r, 100));
      t.equal(server.requests.length, 0, 'the server never saw the body end (no 0-chunk)');
      server.sockets[0]!.write(ok('answer'));
      await until(() => h.done, 'settled');
      t.equal(h.body, 'answer');
      t.notOk(c.codec.reusable);
      t.ok(c.socket.destroyed, 'destroyed: the request was never finished');
    });

    t.test('bytes, FIN while idle (also before the first exchange): reported, destroyed, never parsed', async (t) => {
      const { server, open } = await setup(t, () => {});
      const c = await open();
      await until(() => server.sockets.length === 1, 'server has the connection');
      server.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      await until(() => c.idleCloses.length === 1, 'reported');
      t.ok(c.socket.destroyed);
      const d = await open();
      await until(() => server.sockets.length === 2, 'second connection');
      server.sockets[1]!.end();
      await until(() => d.idleCloses.length === 1, 'FIN reported');
      t.match(d.idleCloses[0], /closed/);
    });
  });
});
}

t.test('onread: bytes read before the codec was attached retire the connection at attach', async (t) => {
  const f = await pkiFiles();
  const server = await startScriptedServer(f.pki.farm.certPem, f.pki.farm.keyPem, () => {});
  t.teardown(() => server.close());
  const reader = new SocketReadBuffer();
  const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'farm.test', ca: f.pki.ca.certPem, ...({ onread: reader } as object) });
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.once('secureConnect', () => r()));
  await until(() => server.sockets.length === 1, 'server has it');
  server.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  await until(() => reader.early > 0, 'early bytes counted');
  const codec = new Http1Codec(socket, { onIdleClose: () => {} }, reader);
  t.ok(socket.destroyed, 'destroyed at attach');
  t.notOk(codec.reusable);
  t.throws(() => codec.start({ method: 'GET', path: '/', headers: [], body: null }, new Recorder()), { code: 'LH_CONN_CLOSED_BEFORE_RESPONSE' });
});
