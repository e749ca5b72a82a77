import t from 'tap';
import https from 'node:https';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startSniStrictServer } from '../helpers/sni-strict-server.js';

// Issue 13 item 1: main forwarded the client's Host (`gw.branch.local:8443`) next to the farm's
// fixed SNI (`farm.test`); a server checking Host against SNI (Jetty 12) answered 400 "Invalid
// SNI" to every request. With no host-header setting, every request must now succeed.

t.test('no host-header setting, fixed SNI: a Host-must-match-SNI server answers 200 to every request', async (t) => {
  const pki = await pkiFiles();
  const server = await startSniStrictServer({ cert: pki.pki.farm.certPem, key: pki.pki.farm.keyPem });
  const farm = farmConfig('farm', pki.caFile, [serverConfig('s1', server.port)]);
  delete farm.hostHeader; // the file without the key
  const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)], [farm]), silentLogger);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(async () => {
    agent.destroy();
    await gw.stop();
    await server.close();
  });
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 40; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: gw.listeners[0]!.port, path: `/r${i}`, agent, ca: pki.pki.ca.certPem, servername: 'localhost', headers: { host: 'gw.branch.local:8443' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  t.same(statuses, { 200: 40 }, 'client saw 40 × 200');
  t.same(server.statuses, { 200: 40 }, 'server answered 40 × 200, no 400 Invalid SNI');
});
