// Bug (issue 11 item 7): two valid requests in one packet (a chunked POST then a GET, or a GET
// with a Content-Length body then another request) got no answer at all on the default engine
// (uws refuses pipelining behind an asynchronous answer and closes). Fix: `engine: node` is the
// default; pipelined requests are served in order.
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

t.test('default engine: pipelined requests are all answered, in order', async (t) => {
  const g = await startDefaultGateway();
  t.teardown(() => g.close());
  const a = await rawTlsRequest({
    port: g.port,
    data: 'POST /p1 HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /p2 HTTP/1.1\r\nHost: app.test\r\n\r\n',
    stopAfterResponses: 2,
  });
  t.same(a.responses.map((r) => (JSON.parse(r.body.toString()) as { url: string }).url), ['/p1', '/p2']);
  const b = await rawTlsRequest({
    port: g.port,
    data: 'GET /q1 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2\r\n\r\nhiGET /q2 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
    quietMs: 2000,
  });
  t.same(b.responses.map((r) => (JSON.parse(r.body.toString()) as { url: string; body: string }).url), ['/q1', '/q2']);
  t.equal((JSON.parse(b.responses[0]!.body.toString()) as { body: string }).body, 'hi');
  t.ok(b.eof, 'closed after the Connection: close one');
});
