import t from 'tap';
import { Pool } from 'undici';
import type { DiscoverConfig, GatewayConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, poolConfig, serverConfig } from '../helpers/configs.js';
import { dnsmasqMissing, startDnsmasq } from '../helpers/dnsmasq.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { until } from '../helpers/until.js';

// Issue 13 item 2: SRV discovery (ports, weights, priorities from the records) and a config
// reload of a discovering farm, against dnsmasq on loopback.

const missing = dnsmasqMissing();

t.test('SRV: ports and weights from the records, higher priority = backup; reload keeps discovered servers', { skip: missing }, async (t) => {
  const pki = await pkiFiles();
  const ips = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const servers: FarmServer[] = [];
  for (const ip of ips) servers.push(await startFarmServer({ name: ip, host: ip, port: 0, cert: pki.pki.farm.certPem, key: pki.pki.farm.keyPem }));
  const srv = (i: number, prio: number, weight: number) => `--srv-host=_https._tcp.api.test,t${i}.test,${servers[i]!.port},${prio},${weight}`;
  const dns = await startDnsmasq(ips.map((ip, i) => `${ip} t${i}.test`), [srv(0, 0, 10), srv(1, 0, 30), srv(2, 1, 10)]);
  const discover: DiscoverConfig = { name: '_https._tcp.api.test', port: 0, type: 'SRV', every: 150, maxServers: 8, resolvers: [dns.address], timeout: 300, weight: 1, pool: poolConfig({ maxConn: 4 }) };
  const config = (over: Partial<Parameters<typeof farmConfig>[3]> = {}): GatewayConfig =>
    gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)], [farmConfig('farm', pki.caFile, [], { discover, balance: 'roundrobin', ...over })]);
  const gw = await Gateway.start(config(), silentLogger);
  const client = new Pool(`https://127.0.0.1:${gw.listeners[0]!.port}`, { connections: 4, connect: { ca: pki.pki.ca.certPem, servername: 'localhost' } });
  t.teardown(async () => {
    await client.close().catch(() => {});
    await gw.stop();
    await dns.stop();
    await Promise.all(servers.map((s) => s.close()));
  });
  const f = () => gw.farms.get('farm')!;
  const addr = (i: number) => `${ips[i]}:${servers[i]!.port}`;
  await until(() => f().servers.length === 3, 'three SRV servers');
  const view = () => Object.fromEntries(f().servers.map((s) => [s.name, { weight: s.weight, backup: s.config.backup }]));
  t.same(view(), { [addr(0)]: { weight: 85, backup: false }, [addr(1)]: { weight: 256, backup: false }, [addr(2)]: { weight: 85, backup: true } }, 'weights scaled to the largest; priority 1 is backup');

  const by: Record<string, number> = {};
  let errors = 0;
  const burst = async (n: number) => {
    for (let i = 0; i < n; i++) {
      try {
        const r = await client.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
        await r.body.text();
        const k = r.statusCode === 200 ? String(r.headers['x-server']) : `status ${r.statusCode}`;
        by[k] = (by[k] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  };
  await burst(80);
  t.equal(by[ips[2]!] ?? 0, 0, 'the backup got nothing while primaries are up');
  t.ok((by[ips[1]!] ?? 0) > (by[ips[0]!] ?? 0), `weight 256 got more than weight 85 (${JSON.stringify(by)})`);

  // Reload with other pool limits and balance: the discovered servers are the same objects.
  const before = f().servers.slice();
  const r = gw.reload(config({ balance: 'leastconn', discover: { ...discover, pool: poolConfig({ maxConn: 6 }) } }));
  t.ok(r, 'reloaded');
  t.same(f().servers.map((s) => s.name).sort(), before.map((s) => s.name).sort(), 'same discovered servers after reload');
  t.ok(f().servers.every((s) => before.includes(s)), 'kept as the same BackendServer objects (pools and connections kept)');
  t.ok(f().servers.every((s) => s.config.pool.maxConn === 6), 'new pool limits applied live');

  // The record of t0 goes away (dnsmasq restarted with other SRV records).
  await dns.stop();
  dns.extra = [srv(1, 0, 30), srv(2, 1, 10)];
  await dns.start();
  await until(() => f().servers.length === 2, 'SRV record removed');
  await burst(40);
  t.equal(errors, 0, 'zero client errors');
  t.notOk(Object.keys(by).some((k) => k.startsWith('status')), `every answer 200 (${JSON.stringify(by)})`);

  // Reload without discover, with one fixed server: the discovered ones drain away.
  gw.reload(config({ discover: null, servers: [serverConfig('fixed', servers[0]!.port, { address: { host: ips[0]!, port: servers[0]!.port } })] }));
  t.same(f().servers.map((s) => s.name), ['fixed']);
  t.equal(f().discoverySnapshot(), null);
});

t.test('AAAA: a server found by its IPv6 address (::1) serves', { skip: missing }, async (t) => {
  const pki = await pkiFiles();
  const server = await startFarmServer({ name: 'v6', host: '::1', port: 0, cert: pki.pki.farm.certPem, key: pki.pki.farm.keyPem });
  const dns = await startDnsmasq(['::1 api6.test', '127.0.0.2 api6.test']);
  const discover: DiscoverConfig = { name: 'api6.test', port: server.port, type: 'AAAA', every: 150, maxServers: 8, resolvers: [dns.address], timeout: 300, weight: 1, pool: poolConfig() };
  const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey)], [farmConfig('farm', pki.caFile, [], { discover })]), silentLogger);
  const client = new Pool(`https://127.0.0.1:${gw.listeners[0]!.port}`, { connections: 2, connect: { ca: pki.pki.ca.certPem, servername: 'localhost' } });
  t.teardown(async () => {
    await client.close().catch(() => {});
    await gw.stop();
    await dns.stop();
    await server.close();
  });
  await until(() => gw.farms.get('farm')!.servers.length === 1, 'one AAAA server');
  t.same(gw.farms.get('farm')!.servers.map((s) => s.name), [`[::1]:${server.port}`], 'the A record is not used; named [v6]:port');
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 10; i++) {
    const r = await client.request({ method: 'GET', path: '/hello', headers: { host: 'localhost' } });
    await r.body.text();
    statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
  }
  t.same(statuses, { 200: 10 });
  t.equal(server.stats.requests, 10);
});
