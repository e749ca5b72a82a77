/**
 * One table of client behaviours, run against BOTH front engines (uws, node) with an echo
 * handler, over real TLS on loopback with raw bytes (test/helpers/raw-tls-client.ts).
 *
 * Rows the uws engine cannot satisfy because uWS itself decides (LF-only chunk framing, …) are
 * marked `todo` with the reason for that engine only; they still run (runRow: their assertions
 * become todo assertions). No row is todo on the default engine (node).
 *
 * Debugging: FRONT_ENGINES=uws|node and FRONT_ROWS=<regexp on row names> narrow the run.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { generateTestPki } from '../../../src/certs/dev-certs.js';
import type { Engine, ListenerConfig } from '../../../src/config/config-types.js';
import type { ProxyRequest, RequestHandler, ResponseSink } from '../../../src/core/types.js';
import { startFrontListener, type FrontListener } from '../../../src/front/front-listener.js';
import { header, rawTlsRequest, type RawReply, type RawResponse } from '../../helpers/raw-tls-client.js';
import { Gateway } from '../../../src/main/gateway.js';
import { silentLogger } from '../../../src/core/logger.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../../helpers/configs.js';
import { pkiFiles } from '../../helpers/pki-files.js';
import { header as recordedHeader, startRecordingBackend, type BackendRequest, type Mark, type RecordingBackend } from '../../helpers/recording-backend.js';

interface Echo {
  method: string;
  target: string;
  httpVersion: string;
  headers: Array<[string, string]>;
  bodyLength: number;
  bodySha256: string;
  declaredLength: number | null;
  hasBody: boolean;
  clientConnId: number;
  wantsClose: boolean;
  remoteAddress: string;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Deterministic payload bytes: byte i of the stream is i % 251. */
function pattern(offset: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (offset + i) % 251;
  return b;
}
const patternSha = (n: number): string => sha256(pattern(0, n));

async function streamBack(res: ResponseSink, n: number, known: boolean, chunkSize: number): Promise<void> {
  res.start(200, 'OK', [['content-type', 'application/octet-stream']], known ? n : null, false);
  let off = 0;
  while (off < n) {
    if (res.aborted) return;
    const size = Math.min(chunkSize, n - off);
    const chunk = pattern(off, size);
    off += size;
    if (!res.write(chunk)) await new Promise<void>((r) => res.onDrain(r));
  }
  res.end();
}

/** What the echo handler observed besides requests: body errors and client aborts, by target. */
type Events = Map<string, string[]>;

function makeEcho(seen: ProxyRequest[], events: Events): RequestHandler {
  return (req, res) => {
    seen.push(req);
    const note = (what: string): void => {
      const l = events.get(req.target) ?? [];
      l.push(what);
      events.set(req.target, l);
    };
    res.onAbort(() => note('abort'));
    if (req.target.startsWith('/throw')) throw new Error('handler blew up on purpose');
    if (req.target.startsWith('/hang')) return; // never answers
    if (req.target.startsWith('/early')) {
      // answer before reading the body (like a server's early 413/401)
      const b = Buffer.from('early');
      res.start(200, 'OK', [], b.length, false);
      res.write(b);
      res.end();
      return;
    }
    const slow = req.target.startsWith('/slow');
    void (async () => {
      const h = createHash('sha256');
      let len = 0;
      if (req.body) {
        try {
          for await (const c of req.body) {
            h.update(c);
            len += c.length;
            if (slow) await new Promise((r) => setTimeout(r, 2));
          }
        } catch (err) {
          note(`body-error:${(err as { code?: string }).code ?? 'unknown'}`);
          throw err;
        }
      }
      const url = new URL(req.target, 'https://gateway.test');
      if (url.pathname === '/stream') {
        await streamBack(res, Number(url.searchParams.get('n')), url.searchParams.get('mode') === 'known', Number(url.searchParams.get('chunk') ?? 65536));
        return;
      }
      const echo: Echo = {
        method: req.method,
        target: req.target,
        httpVersion: req.httpVersion,
        headers: req.headers,
        bodyLength: len,
        bodySha256: h.digest('hex'),
        declaredLength: req.body ? req.body.length : null,
        hasBody: req.body !== null,
        clientConnId: req.clientConnId,
        wantsClose: req.wantsClose,
        remoteAddress: req.remoteAddress,
      };
      const payload = Buffer.from(JSON.stringify(echo));
      const head = req.method === 'HEAD';
      res.start(200, 'OK', [['content-type', 'application/json'], ['x-echo', 'yes']], payload.length, head);
      if (!head) res.write(payload);
      res.end();
    })().catch((err: unknown) => {
      if (res.aborted) return;
      if (!res.started) {
        const b = Buffer.from(String(err));
        res.start(500, 'Internal Server Error', [], b.length, false);
        res.write(b);
        res.end();
      } else {
        res.destroy();
      }
    });
  };
}

// The synchronous-answer path must not depend on the async IIFE above: handle /sync before it.
function withSyncPath(inner: RequestHandler, events: Events): RequestHandler {
  return (req, res) => {
    if (req.target.startsWith('/microtask')) {
      // Answered from a microtask right after dispatch (still inside the engine's callback
      // turn); the producer waits for drain when write() says so, then ends (like undici).
      queueMicrotask(() => {
        const b = Buffer.from(`microtask ${req.clientConnId}`);
        res.start(200, 'OK', [], b.length, false);
        const done = (): void => {
          events.set(req.target, [...(events.get(req.target) ?? []), 'ended']);
          res.end();
        };
        if (res.write(b)) done();
        else res.onDrain(done);
      });
      return;
    }
    if (req.target.startsWith('/sync') && req.body === null) {
      const b = Buffer.from(`sync ${req.clientConnId}`);
      res.start(200, 'OK', [], b.length, false);
      res.write(b);
      res.end();
      return;
    }
    inner(req, res);
  };
}


/**
 * A todo row still RUNS (tap does not run a subtest marked todo, so the reason would never be
 * checked): every assertion of the row is made a todo assertion instead, and a throw becomes a
 * todo failure. A todo row that starts passing shows up as passing todo assertions.
 */
const ARITY: Record<string, number> = { ok: 1, notOk: 1, equal: 2, not: 2, same: 2, notSame: 2, strictSame: 2, match: 2, notMatch: 2, fail: 0, pass: 0 };
function todoView(tt: Test, todo: string): Test {
  return new Proxy(tt, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      const n = typeof prop === 'string' ? ARITY[prop] : undefined;
      if (n === undefined || typeof v !== 'function') return v;
      return (...args: unknown[]) => (v as (...a: unknown[]) => unknown).call(target, ...args.slice(0, n), args[n], { ...(args[n + 1] as object | undefined), todo });
    },
  });
}
async function runRow(tt: Test, todo: string | undefined, run: (t: Test) => Promise<void>): Promise<void> {
  if (!todo) return run(tt);
  try {
    await run(todoView(tt, todo));
  } catch (err) {
    tt.fail(`threw: ${(err as Error).message}`, { todo });
  }
}

const finals = (r: RawReply): RawResponse[] => r.responses.filter((x) => x.status >= 200);
const echoOf = (r: RawResponse): Echo => JSON.parse(r.body.toString()) as Echo;
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: gateway.test\r\n${extra}\r\n`;

interface Ctx {
  engine: Engine;
  port: number;
  seen: ProxyRequest[];
  events: Events;
  listener: FrontListener;
}

interface Row {
  name: string;
  /** Per-engine todo reason (the row runs; a failure is reported as todo). */
  todo?: Partial<Record<Engine, string>>;
  only?: Engine;
  run(t: Test, c: Ctx): Promise<void>;
}

/** A request that must be refused: 400 (or `status`) + Connection: close + EOF, and the request
 * pipelined behind it in the same write is never answered nor dispatched. */
function refused(
  name: string,
  badHead: (target: string) => string,
  opts: { status?: number; todo?: Partial<Record<Engine, string>>; /** body framing error: the head may have been dispatched already */ headMayDispatch?: boolean } = {},
): Row {
  return {
    name: `${name} → ${opts.status ?? 400} + close, pipelined request not served`,
    todo: opts.todo,
    async run(t, c) {
      const id = Math.random().toString(36).slice(2, 8);
      const bad = `/bad-${id}`;
      const smuggled = `/smuggled-${id}`;
      const r = await rawTlsRequest({ port: c.port, data: badHead(bad) + get(smuggled), quietMs: 1500 });
      const f = finals(r);
      t.equal(f.length, 1, 'exactly one response');
      t.equal(f[0]?.status, opts.status ?? 400, 'status');
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close', 'Connection: close');
      t.ok(r.eof, 'client connection closed (EOF)');
      t.notOk(r.trailing.length > 0 && /HTTP\/1\.1 200/.test(r.trailing.toString()), 'no second response bytes');
      if (opts.headMayDispatch) {
        t.notOk(c.seen.some((s) => s.target.startsWith(smuggled)), 'the pipelined request did not reach the handler');
      } else {
        t.notOk(
          c.seen.some((s) => s.target.startsWith(bad) || s.target.startsWith(smuggled)),
          'neither the bad nor the pipelined request reached the handler',
        );
      }
    },
  };
}

const rows: Row[] = [
  {
    name: 'GET with query, keep-alive by default',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/echo?a=1&b=%20x'), stopAfterResponses: 1 });
      const f = finals(r);
      t.equal(f[0]?.status, 200);
      const e = echoOf(f[0]!);
      t.equal(e.method, 'GET');
      t.equal(e.target, '/echo?a=1&b=%20x');
      t.equal(e.httpVersion, '1.1');
      t.equal(e.hasBody, false, 'no body on a GET');
      t.equal(e.wantsClose, false);
      t.equal(e.remoteAddress.replace(/^::ffff:/, ''), '127.0.0.1');
      t.notOk(e.headers.some(([n]) => n.toLowerCase() === 'date'), 'no Date invented in the request');
      t.notOk(header(f[0]!, 'connection')?.toLowerCase() === 'close', 'no Connection: close');
      t.equal(f[0]!.headers.filter(([n]) => n.toLowerCase() === 'date').length, 1, 'exactly one Date (the engine writes its own)');
      t.equal(header(f[0]!, 'x-echo'), 'yes', 'handler headers are written');
    },
  },
  {
    name: 'empty query string is kept',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/echo?'), stopAfterResponses: 1 });
      t.equal(echoOf(finals(r)[0]!).target, '/echo?');
    },
  },
  {
    name: 'POST with Content-Length (body arrives in pieces)',
    async run(t, c) {
      const body = pattern(0, 200_000);
      const head = `POST /echo HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${body.length}\r\n\r\n`;
      const r = await rawTlsRequest({ port: c.port, data: [head, body.subarray(0, 70_000), body.subarray(70_000)], gapMs: 30, stopAfterResponses: 1 });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.method, 'POST');
      t.equal(e.declaredLength, body.length);
      t.equal(e.bodyLength, body.length);
      t.equal(e.bodySha256, sha256(body));
    },
  },
  {
    name: 'POST with Content-Length: 0 has an empty body',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: 'POST /echo HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 0\r\n\r\n', stopAfterResponses: 1 });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.hasBody, true);
      t.equal(e.declaredLength, 0);
      t.equal(e.bodyLength, 0);
    },
  },
  {
    name: 'chunked upload of 1 MiB, head and chunks in separate writes',
    async run(t, c) {
      const total = 1024 * 1024;
      const parts: Buffer[] = [Buffer.from('POST /echo HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n')];
      for (let off = 0; off < total; off += 64 * 1024) {
        const chunk = pattern(off, 64 * 1024);
        parts.push(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      const r = await rawTlsRequest({ port: c.port, data: parts, gapMs: 5, stopAfterResponses: 1, totalMs: 20_000 });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.declaredLength, null, 'chunked: no declared length');
      t.equal(e.bodyLength, total);
      t.equal(e.bodySha256, patternSha(total));
      t.notOk(e.headers.some(([n]) => n.toLowerCase() === 'expect'), 'no Expect passed on');
    },
  },
  {
    name: 'chunked upload in one write with the head',
    async run(t, c) {
      const r = await rawTlsRequest({
        port: c.port,
        data: 'POST /echo HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
        stopAfterResponses: 1,
      });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.bodyLength, 11);
      t.equal(e.bodySha256, sha256(Buffer.from('hello world')));
    },
  },
  {
    name: 'keep-alive: two requests on one connection, same clientConnId',
    async run(t, c) {
      let sent = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: get('/echo?n=1'),
        stopAfterResponses: 2,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(`POST /echo?n=2 HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 3\r\n\r\nabc`);
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2, 'two responses');
      t.notOk(r.eof, 'connection kept open');
      const [a, b] = f.map(echoOf);
      t.equal(a!.target, '/echo?n=1');
      t.equal(b!.target, '/echo?n=2');
      t.equal(b!.bodyLength, 3);
      t.equal(a!.clientConnId, b!.clientConnId, 'same connection, same id');
      t.ok(a!.clientConnId > 0);
    },
  },
  {
    name: 'clientConnId: two connections in parallel from one address keep distinct, stable ids',
    async run(t, c) {
      const one = (tag: string): Promise<RawReply> => {
        let n = 0;
        return rawTlsRequest({
          port: c.port,
          data: get(`/echo?${tag}=0`),
          stopAfterResponses: 4,
          onResponse: (_res, s) => {
            n++;
            if (n < 4) s.write(n % 2 ? `POST /echo?${tag}=${n} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` : get(`/echo?${tag}=${n}`));
          },
        });
      };
      const [ra, rb] = await Promise.all([one('a'), one('b')]);
      const ia = finals(ra).map((x) => echoOf(x).clientConnId);
      const ib = finals(rb).map((x) => echoOf(x).clientConnId);
      t.equal(ia.length, 4);
      t.equal(ib.length, 4);
      t.equal(new Set(ia).size, 1, 'connection A: one id');
      t.equal(new Set(ib).size, 1, 'connection B: one id');
      t.not(ia[0], ib[0], 'different connections, different ids');
    },
  },
  {
    name: 'Connection: close → response says close, socket gets EOF',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/echo', 'Connection: close\r\n') });
      const f = finals(r);
      t.equal(f.length, 1);
      t.equal(f[0]?.status, 200);
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close');
      t.equal(echoOf(f[0]!).wantsClose, true);
      t.ok(r.eof, 'EOF after the response');
      t.notOk(r.timedOut, 'closed by the server, not by our timeout');
    },
  },
  {
    name: 'Connection: keep-alive, close → response says close',
    todo: { uws: 'uWS closes by itself only when the first Connection header is 5 bytes; here the client (or uWS idle timer) closes' },
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/echo', 'Connection: keep-alive, close\r\n'), quietMs: 1000 });
      const f = finals(r);
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close');
      t.equal(echoOf(f[0]!).wantsClose, true);
      t.ok(r.eof, 'EOF after the response');
    },
  },
  {
    name: 'Connection: keep-alive, close → Connection: close header, nothing more served on it',
    async run(t, c) {
      let sent = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: get('/echo', 'Connection: keep-alive, close\r\n'),
        quietMs: 800,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(get('/echo?after-close'));
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 1, 'only the first request is answered');
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close');
      t.notOk(c.seen.some((s) => s.target === '/echo?after-close'), 'request after close not dispatched');
    },
  },
  {
    name: 'HEAD: Content-Length announced, no body bytes (next request parses cleanly)',
    async run(t, c) {
      let sent = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: `HEAD /echo HTTP/1.1\r\nHost: gateway.test\r\n\r\n`,
        headResponses: [0],
        stopAfterResponses: 2,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(get('/echo?after-head'));
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2);
      t.equal(f[0]?.status, 200);
      t.ok(Number(header(f[0]!, 'content-length')) > 0, 'HEAD announces the length');
      t.equal(f[0]!.body.length, 0);
      t.equal(echoOf(f[1]!).target, '/echo?after-head', 'the following response is intact');
    },
  },
  {
    name: 'Expect: 100-continue → 100 Continue before the body, Expect not passed on',
    async run(t, c) {
      const body = Buffer.from('expected body');
      let gotContinue = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: `POST /echo HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
        stopAfterResponses: 1,
        onResponse: (res, s) => {
          if (res.status === 100) {
            gotContinue = true;
            s.write(body);
          }
        },
      });
      t.ok(gotContinue, 'interim 100 Continue received before sending the body');
      const f = finals(r);
      t.equal(f.length, 1);
      const e = echoOf(f[0]!);
      t.equal(e.bodySha256, sha256(body));
      t.notOk(e.headers.some(([n]) => n.toLowerCase() === 'expect'), 'Expect stripped');
    },
  },
  {
    name: 'methods arrive in their real (uppercase) case',
    async run(t, c) {
      for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'M-SEARCH']) {
        const body = m === 'GET' || m === 'OPTIONS' ? '' : 'Content-Length: 0\r\n';
        const r = await rawTlsRequest({ port: c.port, data: `${m} /echo HTTP/1.1\r\nHost: gateway.test\r\n${body}\r\n`, stopAfterResponses: 1 });
        t.equal(echoOf(finals(r)[0]!).method, m, m);
      }
    },
  },
  {
    name: 'OPTIONS * (asterisk-form)',
    todo: { uws: 'uWS answers 505 to a request-target that does not start with /' },
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: `OPTIONS * HTTP/1.1\r\nHost: gateway.test\r\n\r\n`, stopAfterResponses: 1 });
      t.equal(echoOf(finals(r)[0]!).target, '*');
    },
  },
  {
    name: 'mixed-case method: uws forwards it uppercase (case lost in uWS), node refuses it',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: `Get /echo HTTP/1.1\r\nHost: gateway.test\r\n\r\n`, quietMs: 800 });
      const f = finals(r);
      if (c.engine === 'uws') {
        t.equal(f[0]?.status, 200);
        t.equal(echoOf(f[0]!).method, 'GET');
      } else {
        t.equal(f[0]?.status, 400);
        t.ok(r.eof);
      }
    },
  },
  refused('two different Content-Length', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`),
  refused('empty Content-Length', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: \r\n\r\n`),
  refused('non-digit Content-Length', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 3x\r\n\r\nabc`),
  refused('Transfer-Encoding: xchunked', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`),
  refused('Transfer-Encoding: identity', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: identity\r\n\r\n`),
  refused('Transfer-Encoding: chunked, gzip', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n`),
  refused('two Transfer-Encoding headers', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`),
  refused('Transfer-Encoding + Content-Length', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 8\r\n\r\n3\r\nabc\r\n0\r\n\r\n`),
  refused('empty header name (before Host)', (p) => `GET ${p} HTTP/1.1\r\nX-A: 1\r\n: nameless\r\nHost: gateway.test\r\n\r\n`),
  refused('empty header name (after Host)', (p) => `GET ${p} HTTP/1.1\r\nHost: gateway.test\r\n: nameless\r\nX-After: 1\r\n\r\n`, {
    todo: { uws: 'uWS ends the header list at an empty name (nothing after it is visible from JS), so it cannot be detected when Host came first' },
  }),
  refused('bad method token', (p) => `G(T ${p} HTTP/1.1\r\nHost: gateway.test\r\n\r\n`),
  refused('method with "_" (unrecoverable after uWS lowercasing; a valid token for node)', (p) => `M_X ${p} HTTP/1.1\r\nHost: gateway.test\r\n\r\n`),
  refused('missing Host', (p) => `GET ${p} HTTP/1.1\r\nX-A: 1\r\n\r\n`),
  refused('two Host headers', (p) => `GET ${p} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`),
  refused('LF-only chunk framing', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`, {
    headMayDispatch: true,
    todo: { uws: 'uWS accepts LF-only chunk framing (desync); the body is decoded before JS sees it' },
  }),
  refused('bare CR in a header value', (p) => `GET ${p} HTTP/1.1\r\nHost: gateway.test\r\nX-A: a\rb\r\n\r\n`, {
    todo: { uws: 'uWS gives no answer at all (waits, then its idle timer closes); nothing is served' },
  }),
  refused('Expect other than 100-continue', (p) => `POST ${p} HTTP/1.1\r\nHost: gateway.test\r\nExpect: something-else\r\nContent-Length: 0\r\n\r\n`, { status: 417 }),
  {
    name: 'bad request + two pipelined good ones in one write → one 400, EOF',
    async run(t, c) {
      const r = await rawTlsRequest({
        port: c.port,
        data: `POST /bad-multi HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n` + get('/smuggled-multi-1') + get('/smuggled-multi-2'),
        quietMs: 1500,
      });
      t.equal(finals(r).length, 1);
      t.equal(finals(r)[0]?.status, 400);
      t.ok(r.eof);
      t.notOk(c.seen.some((s) => s.target.includes('multi')));
    },
  },
  {
    name: 'good request answered, then bad + good pipelined on the same keep-alive connection',
    async run(t, c) {
      let sent = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: get('/echo?first-ok'),
        quietMs: 1500,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(`GET /bad-ka HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab` + get('/smuggled-ka'));
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2);
      t.equal(f[0]?.status, 200);
      t.equal(f[1]?.status, 400);
      t.ok(r.eof);
      t.notOk(c.seen.some((s) => s.target === '/smuggled-ka'));
    },
  },
  {
    name: 'handler that throws → 500',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/throw'), stopAfterResponses: 1 });
      t.equal(finals(r)[0]?.status, 500);
    },
  },
  {
    name: 'synchronous answer from inside the engine callback, then keep-alive continues',
    async run(t, c) {
      let n = 0;
      const r = await rawTlsRequest({
        port: c.port,
        data: get('/sync?1'),
        stopAfterResponses: 3,
        onResponse: (_res, s) => {
          n++;
          if (n < 3) s.write(get(`/sync?${n + 1}`));
        },
      });
      const f = finals(r);
      t.equal(f.length, 3);
      const ids = f.map((x) => x.body.toString());
      t.equal(new Set(ids).size, 1, `same connection id each time (${ids.join(', ')})`);
    },
  },
  {
    name: 'answer from a microtask (completion deferred a tick on uws): drain still fires, keep-alive continues',
    async run(t, c) {
      let n = 0;
      const r = await rawTlsRequest({
        port: c.port,
        data: get('/microtask?1'),
        stopAfterResponses: 3,
        onResponse: (_res, s) => {
          n++;
          if (n < 3) s.write(n === 1 ? `POST /microtask?2 HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 2\r\n\r\nhi` : get('/microtask?3'));
        },
      });
      const f = finals(r);
      t.equal(f.length, 3, 'all three answered');
      t.equal(new Set(f.map((x) => x.body.toString())).size, 1, 'same connection id');
      for (const target of ['/microtask?1', '/microtask?2', '/microtask?3']) {
        t.same(c.events.get(target), ['ended'], `${target}: the producer heard drain and ended`);
      }
    },
  },
  {
    name: 'large response, known length, slow reader (backpressure)',
    async run(t, c) {
      const n = 8 * 1024 * 1024;
      const r = await rawTlsRequest({ port: c.port, data: get(`/stream?n=${n}&mode=known`, 'Connection: close\r\n'), pauseReadMs: 400, totalMs: 30_000 });
      const f = finals(r);
      t.equal(f.length, 1);
      t.equal(Number(header(f[0]!, 'content-length')), n);
      t.equal(f[0]!.body.length, n);
      t.equal(sha256(f[0]!.body), patternSha(n));
    },
  },
  {
    name: 'large response, unknown length (chunked), slow reader (backpressure)',
    async run(t, c) {
      const n = 8 * 1024 * 1024 + 123;
      const r = await rawTlsRequest({ port: c.port, data: get(`/stream?n=${n}&mode=chunked`, 'Connection: close\r\n'), pauseReadMs: 400, totalMs: 30_000 });
      const f = finals(r);
      t.equal(f.length, 1);
      t.ok(f[0]!.chunked, 'chunked framing');
      t.equal(f[0]!.body.length, n);
      t.equal(sha256(f[0]!.body), patternSha(n));
    },
  },
  {
    name: 'large upload, slow consumer: client paused and resumed, body intact',
    async run(t, c) {
      const body = pattern(0, 3 * 1024 * 1024);
      const head = `POST /slow-upload HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${body.length}\r\n\r\n`;
      const r = await rawTlsRequest({ port: c.port, data: [head, body], stopAfterResponses: 1, totalMs: 30_000 });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.bodyLength, body.length);
      t.equal(e.bodySha256, sha256(body));
    },
  },
  {
    name: 'client goes away mid-upload → body iterator fails with LH_CLIENT_ABORTED, onAbort fires',
    async run(t, c) {
      const target = `/echo?abort-upload-${c.engine}`;
      await rawTlsRequest({
        port: c.port,
        data: [`POST ${target} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 100000\r\n\r\n`, pattern(0, 30_000)],
        quietMs: 300,
      });
      const deadline = Date.now() + 2000;
      while (!(c.events.get(target) ?? []).some((e) => e.startsWith('body-error')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const ev = c.events.get(target) ?? [];
      t.ok(ev.includes('body-error:LH_CLIENT_ABORTED'), `body error seen (${ev.join(',')})`);
      t.ok(ev.includes('abort'), 'onAbort fired');
    },
  },
  {
    name: 'client goes away while the response is pending → onAbort fires',
    async run(t, c) {
      const target = `/hang?${c.engine}`;
      await rawTlsRequest({ port: c.port, data: get(target), quietMs: 300 });
      const deadline = Date.now() + 2000;
      while (!(c.events.get(target) ?? []).includes('abort') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      t.same(c.events.get(target), ['abort']);
    },
  },
  {
    name: 'early answer before the request body is complete, then keep-alive continues',
    async run(t, c) {
      const body = pattern(0, 50_000);
      let sent = 0;
      const r = await rawTlsRequest({
        port: c.port,
        data: `POST /early HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${body.length}\r\n\r\n`,
        stopAfterResponses: 2,
        quietMs: 2000,
        onResponse: (_res, s) => {
          sent++;
          if (sent === 1) {
            s.write(body);
            setTimeout(() => s.write(get('/echo?after-early')), 50);
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2, 'both answered');
      t.equal(f[0]?.body.toString(), 'early');
      t.equal(echoOf(f[1]!).target, '/echo?after-early');
    },
  },
  {
    name: '40 concurrent Connection: close clients → 40 answers, 40 distinct connection ids',
    async run(t, c) {
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          rawTlsRequest({
            port: c.port,
            data: i % 2 ? get(`/echo?cc=${i}`, 'Connection: close\r\n') : `POST /echo?cc=${i} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n`,
            totalMs: 10_000,
          }),
        ),
      );
      const ids = replies.map((r) => echoOf(finals(r)[0]!).clientConnId);
      t.equal(ids.length, 40);
      t.equal(new Set(ids).size, 40);
      t.ok(replies.every((r) => r.eof));
    },
  },
  {
    name: '20 concurrent chunked uploads from one address, first chunk sent after the head',
    async run(t, c) {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          rawTlsRequest({
            port: c.port,
            data: [`POST /echo?cu=${i} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n`, `4\r\nc${String(i).padStart(3, '0')}\r\n`, '0\r\n\r\n'],
            gapMs: 40,
            stopAfterResponses: 1,
            totalMs: 10_000,
          }),
        ),
      );
      const echoes = replies.map((r) => echoOf(finals(r)[0]!));
      t.equal(echoes.length, 20);
      echoes.forEach((e, i) => t.equal(e.bodySha256, sha256(Buffer.from(`c${String(i).padStart(3, '0')}`)), `upload ${i} got its own body`));
      t.equal(new Set(echoes.map((e) => e.clientConnId)).size, 20);
    },
  },
  {
    name: 'keep-alive mix per connection (GET, delayed chunked POST, CL POST) on 6 parallel connections',
    async run(t, c) {
      const one = (k: number): Promise<RawReply> => {
        let n = 0;
        return rawTlsRequest({
          port: c.port,
          data: get(`/echo?mix=${k}-0`),
          stopAfterResponses: 6,
          totalMs: 15_000,
          onResponse: (_res, s) => {
            n++;
            if (n >= 6) return;
            const tag = `${k}-${n}`;
            if (n % 3 === 1) {
              s.write(`POST /echo?mix=${tag} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n`);
              setTimeout(() => s.write(`${tag.length.toString(16)}\r\n${tag}\r\n0\r\n\r\n`), 15);
            } else if (n % 3 === 2) {
              s.write(`POST /echo?mix=${tag} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${tag.length}\r\n\r\n${tag}`);
            } else {
              s.write(get(`/echo?mix=${tag}`));
            }
          },
        });
      };
      const replies = await Promise.all(Array.from({ length: 6 }, (_, k) => one(k)));
      const perConn = replies.map((r) => finals(r).map(echoOf));
      perConn.forEach((list, k) => {
        t.equal(list.length, 6, `connection ${k}: 6 answers`);
        t.equal(new Set(list.map((e) => e.clientConnId)).size, 1, `connection ${k}: one id`);
        list.forEach((e, n) => {
          t.equal(e.target, `/echo?mix=${k}-${n}`);
          if (n % 3 !== 0) t.equal(e.bodySha256, sha256(Buffer.from(`${k}-${n}`)), `connection ${k} request ${n}: own body`);
        });
      });
      t.equal(new Set(perConn.map((l) => l[0]?.clientConnId)).size, 6, 'six distinct ids');
    },
  },
  {
    name: 'HTTP/1.0 → served (node) and closed; uws answers 505 itself',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: `GET /echo HTTP/1.0\r\nHost: gateway.test\r\n\r\n` });
      const f = finals(r);
      t.ok(r.eof, 'closed');
      if (c.engine === 'uws') {
        t.equal(f[0]?.status, 505);
        return;
      }
      t.equal(f[0]?.status, 200);
      const e = echoOf(f[0]!);
      t.equal(e.httpVersion, '1.0');
      t.equal(e.wantsClose, true);
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close');
    },
  },
  {
    name: 'HTTP/1.0 with keep-alive: two requests on one connection',
    only: 'node',
    async run(t, c) {
      let sent = false;
      const r = await rawTlsRequest({
        port: c.port,
        data: `GET /echo?k=1 HTTP/1.0\r\nHost: gateway.test\r\nConnection: keep-alive\r\n\r\n`,
        stopAfterResponses: 2,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(`GET /echo?k=2 HTTP/1.0\r\nHost: gateway.test\r\n\r\n`);
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2);
      t.equal(echoOf(f[0]!).wantsClose, false);
      t.equal(echoOf(f[1]!).wantsClose, true);
      t.equal(echoOf(f[0]!).clientConnId, echoOf(f[1]!).clientConnId);
    },
  },
  {
    name: '8 KiB request header is accepted (16 KiB head limit)',
    async run(t, c) {
      const r = await rawTlsRequest({ port: c.port, data: get('/echo', `X-Big: ${'a'.repeat(8000)}\r\n`), stopAfterResponses: 1 });
      const e = echoOf(finals(r)[0]!);
      t.equal(e.headers.find(([n]) => n.toLowerCase() === 'x-big')?.[1].length, 8000);
    },
  },
];


// ---------------------------------------------------------------------------------------------
// Through the whole gateway: the same kind of raw client, a farm server that records the exact
// bytes it received and what its strict parser (llhttp) made of them. These rows assert what the
// BACKEND got, not only the status (issue 15 case families: framing, header names and bytes,
// methods and targets, versions, pipelining, split writes).
// ---------------------------------------------------------------------------------------------

interface WireCtx {
  engine: Engine;
  port: number;
  backend: RecordingBackend;
}

interface WireRow {
  name: string;
  todo?: Partial<Record<Engine, string>>;
  run(t: Test, w: WireCtx, m: Mark): Promise<void>;
}

const UWS_CHUNK_EXT = 'uWS answers 400 to a chunk extension';
const UWS_NO_10 = 'uWS answers 505 to HTTP/1.0 (and to absolute-form, `*` and CONNECT): it speaks 1.1 origin-form only';
const UWS_PIPELINE = 'uWS closes the connection when a request is pipelined behind one answered asynchronously (it refuses async pipelining): the pipelined requests get no answer';
const UWS_BYTES = 'uWS strips header value bytes above 0x7F before JS sees them (the request cannot be forwarded byte-exact)';
const UWS_HIDDEN = 'uWS ends the header list at an empty name: nothing after it (Content-Length included) is visible from JS, so the body bytes are parsed as a new request';
const UWS_LF = 'uWS accepts malformed chunk framing (LF-only lines, wrong bytes instead of CRLF) and decodes the body before JS sees it';

const wb = (r: BackendRequest, name: string): string[] => recordedHeader(r.rawHeaders, name);
const tag = (): string => Math.random().toString(36).slice(2, 8);

/** Refused at the front: one 4xx with Connection: close, EOF, and the backend never completed the bad or the pipelined request (nor saw the smuggled one's bytes). */
function wireRefused(name: string, bad: (target: string, smuggled: string) => string | Array<string | Buffer>, opts: { status?: number; todo?: Partial<Record<Engine, string>>; gapMs?: number } = {}): WireRow {
  return {
    name: `${name} → ${opts.status ?? 400} + close; the backend completes neither it nor what follows`,
    todo: opts.todo,
    async run(t, w, m) {
      const id = tag();
      const badT = `/bad-${id}`;
      const smuggled = `/smuggled-${id}`;
      const data = bad(badT, smuggled);
      const r = await rawTlsRequest({ port: w.port, data: Array.isArray(data) ? data : [data, get(smuggled)], gapMs: opts.gapMs ?? 30, quietMs: 1500 });
      const f = finals(r);
      t.equal(f.length, 1, 'exactly one response');
      t.equal(f[0]?.status, opts.status ?? 400, 'status');
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close', 'Connection: close');
      t.ok(r.eof, 'client connection closed');
      const got = w.backend.requestsSince(m);
      t.notOk(got.some((x) => x.url.startsWith(badT)), 'the bad request never completed at the backend');
      t.notOk(got.some((x) => x.url.startsWith(smuggled)), 'the request behind it never reached the backend');
      t.notOk(w.backend.bytesSince(m).includes(smuggled), 'not one byte of it either');
    },
  };
}

/** Served: one 200 whose echo is the backend's view of the request. */
async function served(w: WireCtx, data: string | Buffer | Array<string | Buffer>, gapMs = 20): Promise<{ reply: RawReply; seen: BackendRequest }> {
  const reply = await rawTlsRequest({ port: w.port, data, gapMs, stopAfterResponses: 1, quietMs: 1500 });
  const f = finals(reply);
  if (f[0]?.status !== 200) throw new Error(`expected 200, got ${f[0]?.status ?? 'nothing'}: ${reply.raw.toString('latin1').slice(0, 200)}`);
  return { reply, seen: JSON.parse(f[0]!.body.toString('utf8')) as BackendRequest };
}

const wireRows: WireRow[] = [
  // ----- framing -----
  {
    name: 'Content-Length body: backend gets the exact bytes and one Content-Length',
    async run(t, w) {
      const body = pattern(0, 70_000);
      const { seen } = await served(w, [`POST /cl HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${body.length}\r\n\r\n`, body.subarray(0, 30_000), body.subarray(30_000)]);
      t.equal(seen.bodySha256, sha256(body));
      t.same(wb(seen, 'content-length'), [String(body.length)]);
      t.same(wb(seen, 'host'), ['app.test'], 'Host as the client sent it');
    },
  },
  {
    name: 'two equal Content-Length headers: refused, or forwarded as one (never two to the backend codec)',
    async run(t, w, m) {
      const r = await rawTlsRequest({ port: w.port, data: `POST /cl2 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, stopAfterResponses: 1, quietMs: 1000 });
      const st = finals(r)[0]?.status;
      if (st === 400) t.equal(w.backend.requestsSince(m).length, 0, 'refused (llhttp): nothing forwarded');
      else {
        t.equal(st, 200, 'served');
        const seen = w.backend.requestsSince(m).find((x) => x.url === '/cl2')!;
        t.same(wb(seen, 'content-length'), ['3']);
        t.equal(seen.body, 'abc');
      }
    },
  },
  {
    name: 'chunked body: backend gets the exact bytes',
    async run(t, w) {
      const { seen } = await served(w, `POST /ch HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`);
      t.equal(seen.body, 'hello world');
    },
  },
  {
    name: 'chunk extensions are accepted (RFC 9112 §7.1.1) and the body arrives intact',
    todo: { uws: UWS_CHUNK_EXT },
    async run(t, w) {
      const { seen } = await served(w, `POST /ext HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6;x;y="q"\r\n world\r\n0;last\r\n\r\n`);
      t.equal(seen.body, 'hello world');
    },
  },
  {
    name: 'trailers are accepted; the body arrives intact',
    todo: { uws: 'uWS refuses a chunked body with trailer fields' },
    async run(t, w) {
      const { seen } = await served(w, `POST /trailer HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1234\r\n\r\n`);
      t.equal(seen.body, 'hello');
    },
  },
  wireRefused('LF-only chunk lines', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`, { todo: { uws: UWS_LF } }),
  wireRefused('two bytes other than CRLF after chunk data', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n`, { todo: { uws: UWS_LF } }),
  wireRefused('space after the chunk size', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`, { todo: { uws: UWS_LF } }),
  wireRefused('chunk shorter than its size', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nabc\r\n0\r\n\r\n`),
  wireRefused('bare-LF chunk extension', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nXhello\r\n0\r\n\r\n`, { todo: { uws: UWS_LF } }),
  wireRefused('Transfer-Encoding: chunked, identity', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`),
  wireRefused('Content-Length and Transfer-Encoding', (b) => `POST ${b} HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
  // ----- header names and bytes -----
  wireRefused('empty header name hiding Content-Length (smuggling by the declared length)', (b, sm) => {
    const inner = get(sm);
    return [`POST ${b} HTTP/1.1\r\nHost: app.test\r\n: x\r\nContent-Length: ${inner.length}\r\n\r\n`, inner];
  }, { todo: { uws: UWS_HIDDEN } }),
  wireRefused('empty header name hiding Authorization', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\n: x\r\nAuthorization: Basic dTpw\r\n\r\n`, { todo: { uws: UWS_HIDDEN } }),
  wireRefused('header value with DEL (0x7F)', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX-A: a\x7fb\r\n\r\n`),
  wireRefused('header value with a control byte (0x01)', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX-A: a\x01b\r\n\r\n`),
  wireRefused('header value with NUL', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX-A: a\x00b\r\n\r\n`),
  wireRefused('space between header name and colon', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX-A : 1\r\n\r\n`),
  wireRefused('header name with a non-token byte', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX(A): 1\r\n\r\n`),
  wireRefused('obs-fold (continuation line)', (b) => `GET ${b} HTTP/1.1\r\nHost: app.test\r\nX-A: 1\r\n folded\r\n\r\n`),
  {
    name: 'latin1 and UTF-8 bytes in a request header value reach the backend unchanged',
    todo: { uws: UWS_BYTES },
    async run(t, w, m) {
      const data = Buffer.concat([Buffer.from('GET /bytes HTTP/1.1\r\nHost: app.test\r\nX-L: caf'), Buffer.from([0xe9]), Buffer.from('\r\nX-U: caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('\r\nX-T: a'), Buffer.from([0xff]), Buffer.from('\r\n\r\n')]);
      const { seen } = await served(w, data);
      t.same(wb(seen, 'x-l'), ['caf\xe9']);
      t.same(wb(seen, 'x-u'), ['caf\xc3\xa9']);
      t.same(wb(seen, 'x-t'), ['a\xff'], 'a trailing non-ASCII byte is kept');
      t.match(w.backend.bytesSince(m), /X-L: caf\xe9\r\n/, 'on the wire, byte for byte');
    },
  },
  {
    name: 'latin1 and UTF-8 bytes in a response header value reach the client unchanged',
    async run(t, w) {
      const r = await rawTlsRequest({ port: w.port, data: get('/resp-latin1'), stopAfterResponses: 1 });
      const raw = r.raw.toString('latin1');
      t.match(raw, /\r\nx-latin1: caf\xe9\r\n/i);
      t.match(raw, /\r\nx-utf8: caf\xc3\xa9\r\n/i);
    },
  },
  {
    name: '120 request headers all reach the backend, in order',
    todo: { uws: 'uWS answers 431 to more than about 50 headers' },
    async run(t, w) {
      const many = Array.from({ length: 120 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
      const { seen } = await served(w, get('/many', many));
      const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).filter((n) => /^x-h\d+$/i.test(n));
      t.equal(names.length, 120);
      t.same(names.slice(0, 3), ['X-H0', 'X-H1', 'X-H2']);
    },
  },
  {
    name: 'Connection: host, content-length cannot strip Host or Content-Length (tokens ignored)',
    async run(t, w) {
      const { seen } = await served(w, `POST /conn-host HTTP/1.1\r\nHost: app.test\r\nConnection: host, content-length, x-hop\r\nX-Hop: 1\r\nContent-Length: 3\r\n\r\nabc`);
      t.same(wb(seen, 'host'), ['app.test'], 'the client Host, not the server address');
      t.same(wb(seen, 'content-length'), ['3']);
      t.equal(seen.body, 'abc');
      t.same(wb(seen, 'x-hop'), [], 'a header the client may name is still removed');
      t.notOk(wb(seen, 'connection').some((v) => /host|content-length|x-hop/i.test(v)), 'the client Connection header is not passed on (undici writes its own)');
    },
  },
  {
    name: 'forged forwarding headers are replaced (default forwarded-for: replace)',
    async run(t, w) {
      const { seen } = await served(w, get('/xff', 'X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\nX-Forwarded-Proto: http\r\n'));
      t.same(wb(seen, 'x-forwarded-for'), ['127.0.0.1']);
      t.same(wb(seen, 'x-forwarded-proto'), ['https']);
      t.same(wb(seen, 'forwarded'), []);
      t.same(wb(seen, 'x-real-ip'), []);
      t.same(wb(seen, 'x-forwarded-host'), []);
    },
  },
  // ----- methods and targets -----
  {
    name: 'OPTIONS * is answered by the gateway (200), nothing reaches the backend',
    todo: { uws: UWS_NO_10 },
    async run(t, w, m) {
      const r = await rawTlsRequest({ port: w.port, data: `OPTIONS * HTTP/1.1\r\nHost: app.test\r\n\r\n`, stopAfterResponses: 1 });
      t.equal(finals(r)[0]?.status, 200);
      t.equal(w.backend.requestsSince(m).length, 0);
    },
  },
  {
    name: 'absolute-form target: forwarded in origin-form with the same Host',
    todo: { uws: UWS_NO_10 },
    async run(t, w) {
      const { seen } = await served(w, `GET https://app.test/abs?q=1 HTTP/1.1\r\nHost: app.test\r\n\r\n`);
      t.equal(seen.url, '/abs?q=1');
      t.same(wb(seen, 'host'), ['app.test']);
    },
  },
  wireRefused('absolute-form naming another host than Host', (b) => `GET http://other.test${b} HTTP/1.1\r\nHost: app.test\r\n\r\n`, { todo: { uws: UWS_NO_10 } }),
  {
    name: 'CONNECT → 501 from the gateway + close, nothing reaches the backend',
    todo: { uws: UWS_NO_10 },
    async run(t, w, m) {
      const r = await rawTlsRequest({ port: w.port, data: `CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n`, quietMs: 1000 });
      t.equal(finals(r)[0]?.status, 501);
      t.ok(r.eof);
      t.equal(w.backend.requestsSince(m).length, 0);
    },
  },
  {
    name: 'extension method (PURGE) is forwarded as sent',
    async run(t, w) {
      const { seen } = await served(w, `PURGE /m HTTP/1.1\r\nHost: app.test\r\n\r\n`);
      t.equal(seen.method, 'PURGE');
    },
  },
  wireRefused('request-target with a DEL byte', (b) => `GET ${b}\x7f HTTP/1.1\r\nHost: app.test\r\n\r\n`),
  // ----- versions -----
  {
    name: 'HTTP/1.0 without Host: served as HTTP/1.1 to the backend, answered and closed',
    todo: { uws: UWS_NO_10 },
    async run(t, w) {
      const r = await rawTlsRequest({ port: w.port, data: `GET /ten HTTP/1.0\r\n\r\n`, quietMs: 1500 });
      const f = finals(r);
      t.equal(f.length, 1);
      t.equal(f[0]?.status, 200);
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'close');
      t.ok(r.eof, 'closed after the response');
      t.equal((JSON.parse(f[0]!.body.toString()) as BackendRequest).httpVersion, '1.1');
    },
  },
  {
    name: 'HTTP/1.0 keep-alive: kept open only when asked; the second request (no keep-alive) closes',
    todo: { uws: UWS_NO_10 },
    async run(t, w) {
      let sent = false;
      const r = await rawTlsRequest({
        port: w.port,
        data: `GET /ten-ka-1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`,
        quietMs: 1500,
        onResponse: (_res, s) => {
          if (!sent) {
            sent = true;
            s.write(`GET /ten-ka-2 HTTP/1.0\r\n\r\n`);
          }
        },
      });
      const f = finals(r);
      t.equal(f.length, 2);
      t.equal(header(f[0]!, 'connection')?.toLowerCase(), 'keep-alive', 'an HTTP/1.0 client is told the connection stays');
      t.equal(header(f[1]!, 'connection')?.toLowerCase(), 'close');
      t.ok(r.eof);
    },
  },
  {
    name: 'HTTP/1.0 keep-alive and a response of unknown length: no chunked to a 1.0 client, body until close',
    todo: { uws: UWS_NO_10 },
    async run(t, w) {
      const r = await rawTlsRequest({ port: w.port, data: `GET /resp-chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`, quietMs: 1500 });
      t.ok(r.eof, 'closed: the close delimits the body');
      t.notMatch(r.raw.toString('latin1'), /transfer-encoding/i);
      t.match(r.raw.toString('latin1'), /\r\n\r\npart one, part two$/);
    },
  },
  wireRefused('HTTP/1.1 without Host', (b) => `GET ${b} HTTP/1.1\r\nX-A: 1\r\n\r\n`),
  wireRefused('HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1: faulty framing)', (b) => `POST ${b} HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, { todo: { uws: UWS_NO_10 } }),
  wireRefused('HTTP/1.0 with two Host headers', (b) => `GET ${b} HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n`, { todo: { uws: UWS_NO_10 } }),
  {
    name: 'HTTP/2.0, HTTP/0.9, HTTP/1.2, HTTP/1.1x in an HTTP/1 request line: refused (505 / 400, as llhttp does), nothing forwarded',
    async run(t, w, m) {
      for (const v of ['HTTP/2.0', 'HTTP/3.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/1.1x', 'HTTP/11']) {
        const r = await rawTlsRequest({ port: w.port, data: `GET /v HTTP${v.slice(4)}\r\nHost: app.test\r\n\r\n`, quietMs: 1000 });
        const st = finals(r)[0]?.status ?? 0;
        t.ok(st === 400 || st === 505, `${v}: ${st}`);
        t.ok(r.eof, `${v}: closed`);
      }
      t.equal(w.backend.requestsSince(m).length, 0);
    },
  },
  // ----- pipelining -----
  {
    name: 'pipelined: chunked POST then GET in one write → both answered, in order',
    todo: { uws: UWS_PIPELINE },
    async run(t, w, m) {
      const r = await rawTlsRequest({
        port: w.port,
        data: `POST /p1 HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` + get('/p2'),
        stopAfterResponses: 2,
      });
      const f = finals(r).map((x) => JSON.parse(x.body.toString()) as BackendRequest);
      t.same(f.map((x) => x.url), ['/p1', '/p2']);
      t.equal(f[0]?.body, 'abc');
      t.same(w.backend.requestsSince(m).map((x) => x.url).sort(), ['/p1', '/p2']);
    },
  },
  {
    name: 'pipelined: GET with a Content-Length body, then two more, the last with Connection: close',
    todo: { uws: UWS_PIPELINE },
    async run(t, w) {
      const r = await rawTlsRequest({
        port: w.port,
        data: `GET /q1 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2\r\n\r\nhi` + get('/q2') + get('/q3', 'Connection: close\r\n'),
        quietMs: 2000,
      });
      const f = finals(r);
      t.same(f.map((x) => (JSON.parse(x.body.toString()) as BackendRequest).url), ['/q1', '/q2', '/q3']);
      t.equal((JSON.parse(f[0]!.body.toString()) as BackendRequest).body, 'hi');
      t.equal(header(f[2]!, 'connection')?.toLowerCase(), 'close');
      t.ok(r.eof);
    },
  },
  // ----- split writes -----
  {
    name: 'request head split every 7 bytes, CR and LF in different writes',
    async run(t, w) {
      const head = `POST /split HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello`;
      const parts: string[] = [];
      for (let i = 0; i < head.length; i += 7) parts.push(head.slice(i, i + 7));
      const { seen } = await served(w, parts, 5);
      t.equal(seen.url, '/split');
      t.equal(seen.body, 'hello');
      t.same(wb(seen, 'x-a'), ['1']);
    },
  },
  {
    name: 'chunked body with the size line and the CRLF split across writes',
    async run(t, w) {
      const { seen } = await served(w, [`POST /split-ch HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n`, '1', '0\r', '\nabcdefghijklmnop\r', '\n0\r\n', '\r\n'], 15);
      t.equal(seen.body, 'abcdefghijklmnop');
    },
  },
];

async function startEngine(engine: Engine, cert: string, key: string, seen: ProxyRequest[], events: Events): Promise<FrontListener> {
  const cfg: ListenerConfig = {
    name: `table-${engine}`,
    bind: { host: '127.0.0.1', port: 0 },
    engine,
    tls: { cert, key, sniCerts: [] },
    farm: 'echo',
    timeouts: { client: 30_000, httpRequest: 10_000, httpKeepAlive: 10_000 },
  };
  return startFrontListener(cfg, withSyncPath(makeEcho(seen, events), events));
}

const dir = await mkdtemp(join(tmpdir(), 'longhaul-front-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const pki = await generateTestPki();
const certFile = join(dir, 'gateway.crt');
const keyFile = join(dir, 'gateway.key');
await writeFile(certFile, pki.gateway.certPem);
await writeFile(keyFile, pki.gateway.keyPem);

for (const engine of (process.env.FRONT_ENGINES ?? 'uws,node').split(',') as Engine[]) {
  await t.test(`engine: ${engine}`, async (t) => {
    const seen: ProxyRequest[] = [];
    const events: Events = new Map();
    const listener = await startEngine(engine, certFile, keyFile, seen, events);
    const ctx: Ctx = { engine, port: listener.port, seen, events, listener };
    t.ok(listener.port > 0, 'listening');
    t.equal(listener.name, `table-${engine}`);
    const pick = process.env.FRONT_ROWS ? new RegExp(process.env.FRONT_ROWS) : null;
    for (const row of rows) {
      if (row.only && row.only !== engine) continue;
      if (pick && !pick.test(row.name)) continue;
      const todo = row.todo?.[engine];
      await t.test(todo ? `${row.name} # todo on ${engine}: ${todo}` : row.name, (tt) => runRow(tt, todo, (v) => row.run(v, ctx)));
    }
    await t.test('connection bookkeeping matches the open sockets once clients are gone', async (tt) => {
      const dbg = (listener as unknown as { debugState?: () => Record<string, number> }).debugState;
      const deadline = Date.now() + 3000;
      while (listener.stats().connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      tt.equal(listener.stats().connections, 0, 'no client connection left open');
      if (dbg) tt.same(dbg.call(listener), { openSockets: 0, trackedConns: 0, inflight: 0, awaiting: 0 }, 'no tracked connection or exchange left');
    });
    await t.test('stats count requests and rejections', async (tt) => {
      const s = listener.stats();
      if (!pick) {
        tt.ok(s.requests > 20, `requests ${s.requests}`);
        tt.ok(s.rejected >= 10, `rejected ${s.rejected}`);
      }
      tt.ok(s.connections >= 0);
    });
    await t.test('close() closes idle keep-alive connections and stops accepting', async (tt) => {
      const idle = rawTlsRequest({ port: listener.port, data: get('/echo?idle'), quietMs: 5000, totalMs: 8000 });
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await listener.close();
      const r = await idle;
      tt.equal(finals(r).length, 1, 'the idle connection had its answer');
      tt.ok(r.eof, 'and was closed by the server');
      tt.ok(Date.now() - started < 3000, 'close() did not wait for the idle connection');
      await tt.rejects(rawTlsRequest({ port: listener.port, data: get('/echo'), quietMs: 300, totalMs: 1000 }), 'no longer accepting');
    });
  });
}

const WIRE_ROWS = process.env.FRONT_WIRE === '0' ? [] : wireRows;
for (const engine of (process.env.FRONT_ENGINES ?? 'uws,node').split(',') as Engine[]) {
  if (WIRE_ROWS.length === 0) break;
  await t.test(`engine: ${engine}, through the gateway to a recording backend`, async (t) => {
    const files = await pkiFiles();
    const backend = await startRecordingBackend(files.pki.farm.certPem, files.pki.farm.keyPem);
    const farm = farmConfig('farm', files.caFile, [serverConfig('rec', backend.port)], { hostHeader: { kind: 'keep' } }); // the client's Host is what these rows check (issue 13 default rewrites it)
    const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', files.gatewayCert, files.gatewayKey, { engine })], [farm]), silentLogger);
    t.teardown(async () => {
      await gw.stop();
      await backend.close();
    });
    const w: WireCtx = { engine, port: gw.listeners[0]!.port, backend };
    const pick = process.env.FRONT_ROWS ? new RegExp(process.env.FRONT_ROWS) : null;
    for (const row of WIRE_ROWS) {
      if (pick && !pick.test(row.name)) continue;
      const todo = row.todo?.[engine];
      await t.test(todo ? `${row.name} # todo on ${engine}: ${todo}` : row.name, (tt) => runRow(tt, todo, (v) => row.run(v, w, backend.mark())));
    }
  });
}
