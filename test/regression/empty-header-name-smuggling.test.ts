// Bug (issue 15): on the default engine (uws) an empty header name (`: v`) hid every later
// header from uWS and the gateway, Content-Length included: with `Content-Length: 35` and the 35
// bytes `GET /smuggled …` sent a moment later, the backend received and answered GET /smuggled
// as a request of its own — whatever frames by the declared length disagrees with the farm.
// Fix: `engine: node` is the default (llhttp refuses an empty header name: 400 + close).
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

t.test('default engine: an empty header name is refused; the bytes behind it never reach the farm', async (t) => {
  const g = await startDefaultGateway();
  t.teardown(() => g.close());
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
  const r = await rawTlsRequest({
    port: g.port,
    data: [`POST /outer HTTP/1.1\r\nHost: app.test\r\n: x\r\nContent-Length: ${smuggled.length}\r\n\r\n`, smuggled],
    gapMs: 50,
    quietMs: 1500,
  });
  t.equal(r.responses.length, 1, 'one answer');
  t.equal(r.responses[0]?.status, 400);
  t.ok(r.eof, 'closed');
  t.notOk(g.backend.requests.some((x) => x.url === '/smuggled'), 'GET /smuggled never reached the backend');
  t.notOk(g.backend.requests.some((x) => x.url === '/outer'));
  t.notMatch(g.backend.bytesSince({ chunks: 0, requests: 0 }), /smuggled/, 'not one byte of it');
});
