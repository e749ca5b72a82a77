// Bug (issue 11 item 2): a header value with a DEL byte (0x7F) passed the uws front; undici
// refused it, the gateway called that a bad server response and retried it on every server, and
// `observe layer7` took the whole farm DOWN. Same with two equal Content-Length headers (undici:
// "duplicate content-length header"). Fix: the front refuses every value byte undici would
// refuse (request-validation.ts BAD_HEADER_VALUE_RE: 400 + close), and Content-Length goes to
// the backend once (hop-headers.ts).
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

for (const engine of ['default', 'uws'] as const) {
  t.test(`${engine} engine: a DEL or control byte in a header is the client's fault, never the server's`, async (t) => {
    const g = await startDefaultGateway(engine === 'uws' ? '    engine: uws\n' : '', '    health: { observe: layer7, fall: 2 }\n');
    t.teardown(() => g.close());
    for (const bad of ['a\x7fb', 'a\x01b', 'a\x1fb']) {
      for (let i = 0; i < 3; i++) {
        const r = await rawTlsRequest({ port: g.port, data: `GET /bad HTTP/1.1\r\nHost: app.test\r\nX-Bad: ${bad}\r\n\r\nGET /behind HTTP/1.1\r\nHost: app.test\r\n\r\n`, quietMs: 1000 });
        t.equal(r.responses.length, 1, 'one answer');
        t.equal(r.responses[0]?.status, 400);
        t.ok(r.eof, 'closed: nothing behind it is served');
      }
    }
    const dup = await rawTlsRequest({ port: g.port, data: 'POST /dup HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', stopAfterResponses: 1, quietMs: 1000 });
    t.ok([200, 400].includes(dup.responses[0]?.status ?? 0), `two equal Content-Length: refused or served once (${dup.responses[0]?.status})`);
    const server = g.gateway.farms.get('farm')!.servers[0]!;
    t.same(server.counters.errors, {}, 'no error counted against the server');
    t.equal(server.counters.retries, 0, 'nothing retried');
    t.equal(server.state, 'UP');
    t.notOk(g.backend.requests.some((x) => x.url === '/bad' || x.url === '/behind'));
    const ok = await rawTlsRequest({ port: g.port, data: 'GET /fine HTTP/1.1\r\nHost: app.test\r\n\r\n', stopAfterResponses: 1 });
    t.equal(ok.responses[0]?.status, 200, 'everybody else is still served');
  });
}
