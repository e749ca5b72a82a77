// Known limitation (issue 14 item 1, README "Why the node engine pays more per new client
// connection"): on TLS 1.3, node's TLS server sends two session tickets after a full handshake
// and none after a resumed one. Clients that use a TLS 1.3 ticket once (OpenSSL: wrk, curl;
// RFC 8446 §C.4) therefore pay a full handshake on every other connection. No listener option
// changes it on Node 20 (measured: `ticketKeys`, SSL_OP_NO_TICKET + newSession/resumeSession).
// The todo below passes the day node issues a ticket on resumption; the rest pins what holds now.
import tls from 'node:tls';
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';

interface Seen {
  reused: boolean;
  tickets: number;
  status: string;
}

function oneConnection(port: number, session: Buffer | undefined, onTicket: (s: Buffer) => void): Promise<Seen> {
  return new Promise((resolve, reject) => {
    let tickets = 0;
    let reused = false;
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1.3', session }, () => {
      reused = s.isSessionReused();
      s.write('GET /ticket HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    });
    s.on('session', (sess: Buffer) => {
      tickets++;
      onTicket(sess);
    });
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve({ reused, tickets, status: data.slice(0, 12) }));
  });
}

t.test('node engine, TLS 1.3: resumption works; a ticket after a resumed handshake does not (yet)', async (t) => {
  const g = await startDefaultGateway();
  t.teardown(() => g.close());
  let session: Buffer | undefined;
  const seen: Seen[] = [];
  for (let i = 0; i < 4; i++) seen.push(await oneConnection(g.port, session, (s) => (session = s)));
  t.ok(seen.every((x) => x.status === 'HTTP/1.1 200'), 'every connection answered 200');
  t.equal(seen[0]!.reused, false, 'the first connection is a full handshake');
  t.ok(seen[0]!.tickets >= 1, 'a full handshake gets session tickets');
  t.ok(seen.slice(1).every((x) => x.reused), 'the later connections resume (the node client reuses a ticket)');
  t.ok(
    seen.slice(1).every((x) => x.tickets >= 1),
    'every resumed connection gets a fresh ticket (what single-use clients need)',
    { todo: 'node 20 sends no ticket after a resumed TLS 1.3 handshake; README "Why the node engine pays more per new client connection"' },
  );
});
