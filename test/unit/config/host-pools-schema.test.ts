import t, { type Test } from 'tap';
import type { GatewayConfig } from '../../../src/config/config-types.js';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

// Issue 11 items 3 and 6: tls.max-host-pools, tls.sni-allow, tls.warm-host-pools, pool.max-queue.

function certDir(t: Test): string {
  return t.testdir({ certs: { 'gateway.crt': 'x', 'gateway.key': 'x' } });
}

const config = (farmExtra: string) => `
listeners:
  - name: clients
    bind: 127.0.0.1:8443
    tls: { cert: certs/gateway.crt, key: certs/gateway.key }
    farm: api
farms:
  - name: api
${farmExtra}
    servers:
      - { name: s1, address: 10.0.0.1:443 }
      - { name: s2, address: 10.0.0.2:443, pool: { max-queue: 7 } }
`;

t.test('defaults: 64 host pools, any name, learned pools not warmed, unlimited queue', async (t) => {
  const r = loadConfigText(config(''), {}, certDir(t));
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const farm = (r as { config: GatewayConfig }).config.farms[0]!;
  t.equal(farm.tls.maxHostPools, 64);
  t.equal(farm.tls.sniAllow, null);
  t.equal(farm.tls.warmHostPools, false);
  t.equal(farm.servers[0]!.pool.maxQueue, 0);
  t.equal(farm.servers[1]!.pool.maxQueue, 7, 'per-server override');
});

t.test('set: names lowercased, wildcards kept, farm max-queue', async (t) => {
  const r = loadConfigText(config('    tls: { sni: host, max-host-pools: 8, sni-allow: [API.example.net, "*.corp.example"], warm-host-pools: true }\n    pool: { max-queue: 100 }'), {}, certDir(t));
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const farm = (r as { config: GatewayConfig }).config.farms[0]!;
  t.equal(farm.tls.maxHostPools, 8);
  t.strictSame(farm.tls.sniAllow, ['api.example.net', '*.corp.example']);
  t.equal(farm.tls.warmHostPools, true);
  t.equal(farm.servers[0]!.pool.maxQueue, 100);
  t.equal(farm.servers[1]!.pool.maxQueue, 7);
});

t.test('bad values: every error reported at once, with its key path', async (t) => {
  const r = loadConfigText(config('    tls: { sni: host, max-host-pools: 0, sni-allow: ["10.0.0.1", "*.", ok.example], warm-host-pools: maybe }\n    pool: { max-queue: -1 }'), {}, certDir(t));
  t.notOk(r.ok);
  const paths = r.ok ? [] : r.issues.map((i) => i.path).sort();
  t.strictSame(paths, ['farms[0].pool.max-queue', 'farms[0].tls.max-host-pools', 'farms[0].tls.sni-allow[0]', 'farms[0].tls.sni-allow[1]', 'farms[0].tls.warm-host-pools'].sort(), r.ok ? '' : formatIssues(r.issues));
});
