// Bug (issue 11 item 8): with no `engine` setting (uws was the default) every HTTP/1.0 request
// (ApacheBench, old Java clients) got 505. Fix: `engine: node` is the default
// (src/config/listener-schema.ts). HTTP/1.0 is answered and closed unless the client asks for
// keep-alive; the server gets HTTP/1.1 on a pooled connection.
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

const conn = (r: { headers: Array<[string, string]> } | undefined) => r?.headers.find(([n]) => n.toLowerCase() === 'connection')?.[1].toLowerCase();

t.test('default engine serves HTTP/1.0, keep-alive only when asked', async (t) => {
  const g = await startDefaultGateway();
  t.teardown(() => g.close());
  // ab -n 15 (no -k): one request per connection, no Host.
  for (let i = 0; i < 15; i++) {
    const r = await rawTlsRequest({ port: g.port, data: `GET /ab-${i} HTTP/1.0\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n`, quietMs: 2000 });
    t.equal(r.responses[0]?.status, 200, `request ${i}`);
    t.equal(conn(r.responses[0]), 'close');
    t.ok(r.eof, 'closed by the gateway');
  }
  // ab -k: Connection: keep-alive, several requests on one connection.
  let n = 0;
  const ka = await rawTlsRequest({
    port: g.port,
    data: 'GET /ab-k-0 HTTP/1.0\r\nConnection: keep-alive\r\nHost: app.test\r\n\r\n',
    stopAfterResponses: 4,
    onResponse: (_r, s) => {
      n++;
      if (n < 4) s.write(`GET /ab-k-${n} HTTP/1.0\r\nConnection: keep-alive\r\nHost: app.test\r\n\r\n`);
    },
  });
  t.equal(ka.responses.filter((x) => x.status === 200).length, 4, 'four answers on one connection');
  t.ok(ka.responses.every((x) => conn(x) === 'keep-alive'), 'each says keep-alive');
  t.equal(g.backend.requests.filter((x) => x.url.startsWith('/ab-')).length, 19);
  t.ok(g.backend.requests.every((x) => x.httpVersion === '1.1'), 'the server speaks HTTP/1.1 with the gateway');
});
