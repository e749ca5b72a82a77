import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';

interface PoolJson { open: number; idle: number; busy: number; queue: number; counters: { handshakesFull: number; handshakesResumed: number; leasesReused: number } }
interface ServerJson { name: string; state: string; pools: PoolJson[]; counters: { requests: number; requestsOnReused: number; retries: number; responses: Record<string, number>; errors: Record<string, number> } }

t.test('GET /stats counts connections, handshakes, requests and reuse per server', async (t) => {
  const f = await pkiFiles();
  const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  const cfg = {
    ...gatewayConfig([listenerConfig('farm', f.gatewayCert, f.gatewayKey)], [farmConfig('farm', f.caFile, [serverConfig('s1', s.port, {}, { maxConn: 2 })])]),
    admin: { bind: { host: '127.0.0.1', port: 0 }, tokenFile: null },
  };
  const gw = await Gateway.start(cfg, silentLogger);
  t.teardown(async () => {
    await gw.stop();
    await s.close();
  });
  const port = gw.listeners[0]!.port;
  for (let i = 0; i < 10; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
    t.equal(r.status, 200);
  }
  const res = await fetch(`http://127.0.0.1:${gw.admin!.port}/stats`);
  t.equal(res.status, 200);
  const stats = (await res.json()) as { farms: Array<{ name: string; servers: ServerJson[] }> };
  const srv = stats.farms[0]!.servers[0]!;
  t.equal(srv.name, 's1');
  t.equal(srv.state, 'UP');
  t.equal(srv.counters.requests, 10);
  t.equal(srv.counters.requestsOnReused, 9);
  t.equal(srv.counters.responses['2xx'], 10);
  const pool = srv.pools[0]!;
  t.equal(pool.open, 1);
  t.equal(pool.idle, 1);
  t.equal(pool.busy, 0);
  t.equal(pool.counters.handshakesFull + pool.counters.handshakesResumed, s.stats.handshakes, 'handshakes agree with the server');
  const missing = await fetch(`http://127.0.0.1:${gw.admin!.port}/nope`);
  t.equal(missing.status, 404);
});
