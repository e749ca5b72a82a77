/**
 * Issue 12 item 7: `server state changed` / `server weight changed` lines carried `farm` and
 * `server` twice (the farm's logger bound `farm`, farm.ts bound it again with `server`, and
 * backend-server.ts added `server` to the line). Fails on main 030f2a2.
 */
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { duplicateKeys, rawLineLogger } from '../helpers/raw-log.js';

t.test('state-change and weight-change lines have each key once', async (t) => {
  const f = await pkiFiles();
  const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  const { log, lines } = rawLineLogger();
  const cfg = { ...gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, [serverConfig('s1', s.port)])]), admin: { bind: { host: '127.0.0.1', port: 0 }, tokenFile: null } };
  const gw = await Gateway.start(cfg, log);
  t.teardown(async () => {
    await gw.stop();
    await s.close();
  });
  const post = (body: unknown) => fetch(`http://127.0.0.1:${gw.admin!.port}/servers/farm/s1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.equal((await post({ state: 'drain' })).status, 200);
  t.equal((await post({ weight: 7 })).status, 200);
  const changes = lines.filter((l) => /server (state|weight) changed/.test(l));
  t.equal(changes.length, 2, 'one state change, one weight change');
  for (const l of changes) {
    t.same(duplicateKeys(l), [], `no duplicate key: ${l}`);
    const o = JSON.parse(l) as Record<string, unknown>;
    t.equal(o.farm, 'farm');
    t.equal(o.server, 's1');
  }
  for (const l of lines) t.same(duplicateKeys(l), [], 'every line of the run has each key once');
});
