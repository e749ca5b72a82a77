import t from 'tap';
import { header, rawTlsRequest } from '../helpers/raw-tls-client.js';
import { poolTotals, runConcurrently, startHarness } from '../helpers/harness.js';

// Acceptance (issue 2): 1,000 Connection: close requests from 20 concurrent clients, each on a
// new TLS connection, through the gateway to 2 TLS servers with max-conn 4.
for (const engine of ['uws', 'node'] as const) {
  t.test(`${engine}: 1000 Connection: close requests share at most 8 backend connections`, async (t) => {
    const h = await startHarness({ servers: 2, engine, pool: { maxConn: 4 } });
    t.teardown(() => h.close());
    const replies = await runConcurrently(1000, 20, (i) =>
      rawTlsRequest({
        port: h.port,
        ca: h.pki.pki.ca.certPem,
        servername: 'localhost',
        data: `GET /hello?i=${i} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        quietMs: 5000,
      }),
    );
    let ok = 0;
    let closedByGateway = 0;
    let closeHeader = 0;
    for (const r of replies) {
      const res = r.responses[0];
      if (r.responses.length === 1 && res?.status === 200 && /^hello from s[12]$/.test(res.body.toString())) ok++;
      if (r.eof && !r.timedOut) closedByGateway++;
      if (res && header(res, 'connection')?.toLowerCase() === 'close') closeHeader++;
    }
    t.equal(ok, 1000, 'every request got exactly one 200 with the right body');
    t.equal(closedByGateway, 1000, 'the gateway closed every client connection after its response');
    t.equal(closeHeader, 1000, 'every response carried Connection: close');
    t.ok(h.handshakes() <= 8, `backend TLS handshakes: ${h.handshakes()} (at most 8)`);
    const seenClose = h.servers.reduce((n, s) => n + s.stats.requestsSeenWithConnectionClose, 0);
    t.equal(seenClose, 0, 'the servers never saw Connection: close');
    t.equal(h.servers.reduce((n, s) => n + s.stats.requests, 0), 1000, 'the servers saw each request once');
    t.equal(poolTotals(h).busy, 0, 'no backend connection left busy');
  });
}
