// Bug (issue 15): `OPTIONS *` on the node engine went to undici, which refuses a path that is not
// origin- or absolute-form; the gateway called that a server failure, retried it on every
// attempt and answered 502 blamed on the server. Fix: answered by the gateway itself (200) in
// src/proxy/forwarder.ts; CONNECT (node emits 'connect', which nobody handled: the socket was
// just closed) → 501 + close at the front.
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

t.test('OPTIONS * → 200 from the gateway; CONNECT → 501; the server is never tried nor blamed', async (t) => {
  const g = await startDefaultGateway();
  t.teardown(() => g.close());
  const before = g.backend.requests.length;
  const r = await rawTlsRequest({ port: g.port, data: 'OPTIONS * HTTP/1.1\r\nHost: app.test\r\n\r\n', stopAfterResponses: 1 });
  t.equal(r.responses[0]?.status, 200);
  const c = await rawTlsRequest({ port: g.port, data: 'CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n', quietMs: 1000 });
  t.equal(c.responses[0]?.status, 501);
  t.ok(c.eof, 'closed after the 501');
  t.equal(g.backend.requests.length, before, 'nothing reached the server');
  const server = g.gateway.farms.get('farm')!.servers[0]!;
  t.same(server.counters.errors, {}, 'no error counted against the server');
  t.equal(server.counters.retries, 0);
  t.equal(server.state, 'UP');
});
