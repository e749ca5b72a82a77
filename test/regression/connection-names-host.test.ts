// Bug (issue 15): `Connection: host` made the gateway strip Host as hop-by-hop; the backend got
// its own address as Host (undici's default). Same for Content-Length and Idempotency-Key: a
// client could remove end-to-end headers the gateway frames, routes or retries by.
// Fix: src/core/connection-tokens.ts NOT_NAMEABLE_IN_CONNECTION (the token is ignored).
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { header } from '../helpers/recording-backend.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

for (const engine of ['default', 'uws'] as const) {
  t.test(`${engine} engine: Connection cannot name Host, Content-Length or Idempotency-Key`, async (t) => {
    // host-header: keep, so the Host the server sees is the client's (default sni rewrites it, issue 13).
    const g = await startDefaultGateway(engine === 'uws' ? '    engine: uws\n' : '', '    host-header: keep\n');
    t.teardown(() => g.close());
    const r = await rawTlsRequest({
      port: g.port,
      data: 'POST /named HTTP/1.1\r\nHost: app.branch.test\r\nConnection: Host, Content-Length, Idempotency-Key, X-Hop\r\nIdempotency-Key: k-1\r\nX-Hop: 1\r\nContent-Length: 5\r\n\r\nhello',
      stopAfterResponses: 1,
    });
    t.equal(r.responses[0]?.status, 200);
    const seen = g.backend.requests.find((x) => x.url === '/named')!;
    t.same(header(seen.rawHeaders, 'host'), ['app.branch.test'], 'Host as the client sent it');
    t.same(header(seen.rawHeaders, 'content-length'), ['5']);
    t.same(header(seen.rawHeaders, 'idempotency-key'), ['k-1']);
    t.equal(seen.body, 'hello');
    t.same(header(seen.rawHeaders, 'x-hop'), [], 'a header the client may name is still removed');
  });
}
