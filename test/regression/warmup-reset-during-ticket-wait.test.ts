import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { ServerPool } from '../../src/pool/server-pool.js';
import { createFarmTls } from '../../src/tls/farm-tls.js';
import { TlsSessionCache } from '../../src/tls/tls-session-cache.js';
import { poolConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startTicketlessResetter } from '../helpers/pool-fault-servers.js';
import { until } from '../helpers/until.js';

/**
 * Bug (issue 11 item 4): connect-tls.ts removed its `error` listener after secureConnect and then
 * waited up to 1 s for a TLS 1.3 session ticket (min-idle warm-up). A server that sends no ticket
 * and resets inside that window raised an `error` event with no listener: an uncaught exception
 * (the process dies). Fixed: the socket keeps an error listener for its whole life, and a close
 * during the ticket wait fails that connect.
 */
t.test('min-idle warm-up against a ticketless server that resets after the handshake: nothing is thrown', async (t) => {
  const f = await pkiFiles();
  const server = await startTicketlessResetter(f.pki.farm.certPem, f.pki.farm.keyPem);
  let uncaught = 0;
  const onUncaught = (): void => {
    uncaught++;
  };
  process.on('uncaughtException', onUncaught);
  const farmTls = createFarmTls({ ca: f.caFile, sni: { kind: 'fixed', name: 'farm.test' }, verify: true, cert: null, key: null });
  const p = new ServerPool({
    key: 'k', host: '127.0.0.1', port: server.port, sni: 'farm.test', farmTls, sessions: new TlsSessionCache(),
    pool: poolConfig({ maxConn: 4, minIdle: 2 }), connectTimeoutMs: 2000, queueTimeoutMs: 2000, log: silentLogger,
  });
  t.teardown(async () => {
    process.removeListener('uncaughtException', onUncaught);
    await p.close();
    await server.close();
  });
  p.warm();
  const outcome = await p.warmed();
  // Warm-up backs off (1 s) and tries again: let it reset a second connection too.
  await until(() => server.faults >= 2, 'two connections reset inside the ticket wait', 120);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(uncaught, 0, 'uncaughtException count');
  t.equal(outcome, 'failed', 'the first warm-up attempt is reported failed, not warm');
  t.equal(p.snapshot().idle, 0, 'no dead connection sits idle');
  t.ok(p.snapshot().counters.connectFailures >= 2, `${p.snapshot().counters.connectFailures} connect failures counted`);
});
