import t from 'tap';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';
import { poolTotals, runConcurrently, startHarness } from '../helpers/harness.js';

// Bug: on the uws engine, a response whose last bytes were deferred to the next tick (uWS's
// parse loop) reported write() === false and then dropped its drain callbacks when it finished.
// The proxy's exchange stayed paused, its backend connection stayed busy forever, and with
// max-conn reached every later request queued until timeout (seen: 20 concurrent clients,
// 176 of 200 requests stalled). Fixed in uws-response-writer.ts: finishing a response fires drain.
t.test('20 concurrent Connection: close clients over max-conn 2: nothing stalls, no connection stays busy', async (t) => {
  const h = await startHarness({ servers: 1, engine: 'uws', pool: { maxConn: 2 } });
  t.teardown(() => h.close());
  const replies = await runConcurrently(200, 20, (i) =>
    rawTlsRequest({ port: h.port, ca: h.pki.pki.ca.certPem, servername: 'localhost', data: `GET /hello?${i} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, quietMs: 5000 }),
  );
  t.equal(replies.filter((r) => r.responses[0]?.status === 200).length, 200);
  t.equal(replies.filter((r) => r.timedOut).length, 0);
  t.equal(poolTotals(h).busy, 0);
  t.ok(h.handshakes() <= 2);
});
