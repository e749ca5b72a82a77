import t, { type Test } from 'tap';
import https from 'node:https';
import type { FarmConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { runConcurrently } from '../helpers/harness.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startSniStrictServer, type StrictServer } from '../helpers/sni-strict-server.js';
import { until } from '../helpers/until.js';

// Issue 13 item 1: host-header, X-Forwarded-Host, health-check Host, header rules.

const HEALTH = { enabled: true, path: '/health', method: 'GET', expectStatus: 200, inter: 200, fastinter: 100, downinter: 200, rise: 1, fall: 1, disableOn404: false, timeout: 2000, observe: 'none' as const, errorLimit: 10 };

async function setup(t: Test, over: Partial<FarmConfig> = {}, health = false) {
  const pki = await pkiFiles();
  const server = await startSniStrictServer({ cert: pki.pki.farm.certPem, key: pki.pki.farm.keyPem });
  const farm = farmConfig('farm', pki.caFile, [serverConfig('s1', server.port)], { ...(health ? { health: HEALTH } : {}), ...over });
  const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey, { engine: 'node' })], [farm]), silentLogger);
  const client = new GatewayClient(gw.listeners[0]!.port, pki.pki.ca.certPem);
  t.teardown(async () => {
    client.close();
    await gw.stop();
    await server.close();
  });
  return { gw, server, client };
}

/**
 * node:https keep-alive client: its SNI stays `localhost` (the gateway's certificate) whatever
 * the Host header says (undici would switch its SNI to the Host).
 */
class GatewayClient {
  readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  constructor(readonly port: number, readonly ca: string) {}
  request(o: { method: string; path: string; headers: Record<string, string> }): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    return new Promise((resolve, reject) => {
      https
        .request({ host: '127.0.0.1', port: this.port, method: o.method, path: o.path, headers: o.headers, agent: this.agent, ca: this.ca, servername: 'localhost' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        })
        .on('error', reject)
        .end();
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

/** `count` GETs with the Host a branch client sends; statuses counted. */
async function run(client: GatewayClient, count: number, headers: Record<string, string> = {}) {
  const statuses: Record<number, number> = {};
  const bodies: string[] = [];
  const responseHeaders: Array<Record<string, string | string[] | undefined>> = [];
  await runConcurrently(count, 8, async (i) => {
    const r = await client.request({ method: 'GET', path: `/x?i=${i}`, headers: { host: 'gw.branch.local:8443', ...headers } });
    statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
    bodies.push(r.text);
    responseHeaders.push(r.headers);
  });
  return { statuses, bodies, responseHeaders };
}

const trafficSeen = (s: StrictServer) => s.seen.filter((x) => x.path !== '/health');

t.test('default (fixed SNI): a server that rejects Host ≠ SNI serves every request; the client Host goes in X-Forwarded-Host', async (t) => {
  const { server, client } = await setup(t);
  const r = await run(client, 200);
  t.same(r.statuses, { 200: 200 }, '200 of 200 answered 200');
  t.same(server.statuses, { 200: 200 }, 'the server answered 200 to all 200, never 400');
  const seen = trafficSeen(server);
  t.equal(seen.length, 200);
  t.ok(seen.every((x) => x.sni === 'farm.test' && x.headers.host === `farm.test:${server.port}`), 'Host = SNI:port on every request');
  t.ok(seen.every((x) => x.headers['x-forwarded-host'] === 'gw.branch.local:8443'), 'X-Forwarded-Host = the client Host');
  t.ok(seen.every((x) => x.raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length === 1), 'exactly one Host');
});

t.test('host-header: keep forwards the client Host unchanged: the strict server refuses every request (the fault of main)', async (t) => {
  const { server, client } = await setup(t, { hostHeader: { kind: 'keep' } });
  const r = await run(client, 50);
  t.same(r.statuses, { 400: 50 });
  t.same(server.statuses, { 400: 50 });
  t.ok(trafficSeen(server).every((x) => x.headers.host === 'gw.branch.local:8443' && x.headers['x-forwarded-host'] === undefined), 'Host kept, no X-Forwarded-Host');
});

t.test('host-header: <literal> is sent as written; sni: host keeps the client Host (it is the SNI)', async (t) => {
  const lit = await setup(t, { hostHeader: { kind: 'literal', value: 'farm.test' } });
  const r1 = await run(lit.client, 20);
  t.same(r1.statuses, { 200: 20 });
  t.ok(trafficSeen(lit.server).every((x) => x.headers.host === 'farm.test' && x.headers['x-forwarded-host'] === 'gw.branch.local:8443'));

  const pki = await pkiFiles();
  const byHost = await setup(t, { tls: { ca: pki.caFile, sni: { kind: 'host' }, verify: true, cert: null, key: null } });
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 20; i++) {
    const r = await byHost.client.request({ method: 'GET', path: '/', headers: { host: 'a.test:8443' } });
    statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
  }
  t.same(statuses, { 200: 20 });
  t.ok(trafficSeen(byHost.server).every((x) => x.sni === 'a.test' && x.headers.host === 'a.test:8443' && x.headers['x-forwarded-host'] === undefined), 'sni: host: Host unchanged, SNI from it');
});

t.test('health checks send the Host traffic sends: default passes, keep-equivalent literal mismatch fails', async (t) => {
  const ok = await setup(t, {}, true);
  await until(() => ok.server.seen.filter((x) => x.path === '/health').length >= 3, 'three checks');
  const checks = ok.server.seen.filter((x) => x.path === '/health');
  t.ok(checks.every((x) => x.headers.host === `farm.test:${ok.server.port}`), 'check Host = traffic Host');
  t.equal(ok.gw.farms.get('farm')!.servers[0]!.state, 'UP');

  const bad = await setup(t, { hostHeader: { kind: 'literal', value: 'other.example' } }, true);
  await until(() => bad.gw.farms.get('farm')!.servers[0]!.state === 'DOWN', 'server DOWN');
  const badChecks = bad.server.seen.filter((x) => x.path === '/health');
  t.ok(badChecks.length >= 1 && badChecks.every((x) => x.headers.host === 'other.example'), 'the check carried the literal Host and the strict server marked it 400');
  t.equal(bad.server.statuses[200] ?? 0, 0);

  // A reload that changes only host-header gives the checks the new Host: the server comes back UP.
  const cfg = structuredClone(bad.gw.farms.get('farm')!.config);
  const pki = await pkiFiles();
  bad.gw.reload(gatewayConfig([listenerConfig('farm', pki.gatewayCert, pki.gatewayKey, { engine: 'node' })], [{ ...cfg, hostHeader: { kind: 'sni' } }]));
  const lastCheck = () => bad.server.seen.filter((x) => x.path === '/health').at(-1)!;
  await until(() => lastCheck().headers.host === `farm.test:${bad.server.port}`, 'a check with the SNI Host');
  await until(() => (bad.server.statuses[200] ?? 0) >= 2, 'two good checks');
  t.equal(bad.gw.farms.get('farm')!.servers[0]!.state, 'UP', 'checks carry the SNI Host after the reload; the server is UP');
});

t.test('request-headers and response-headers rules apply after hop-by-hop handling', async (t) => {
  const { server, client } = await setup(t, {
    requestHeaders: { set: [['X-Env', 'prod']], add: [['X-Tag', 'a'], ['X-Tag', 'b']], remove: ['x-debug'] },
    responseHeaders: { set: [['X-Gateway', 'longhaul']], add: [], remove: ['server', 'x-backend-secret'] },
  });
  const r = await run(client, 20, { 'x-debug': '1', 'x-env': 'dev', connection: 'keep-alive, x-hop', 'x-hop': 'gone' });
  t.same(r.statuses, { 200: 20 });
  const seen = trafficSeen(server);
  t.ok(seen.every((x) => x.headers['x-env'] === 'prod' && x.headers['x-debug'] === undefined && x.headers['x-hop'] === undefined), 'set replaced, remove removed, hop-by-hop gone');
  t.ok(seen.every((x) => x.headers['x-tag'] === 'a, b'), 'add appended two values');
  t.ok(r.responseHeaders.every((h) => h.server === undefined && h['x-backend-secret'] === undefined && h['x-gateway'] === 'longhaul'), 'Server and X-Backend-Secret removed, X-Gateway set');
});
