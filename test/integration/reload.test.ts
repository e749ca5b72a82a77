/**
 * SIGHUP on `longhaul run` while clients send requests: a changed max-conn and a new server are
 * applied without errors and without dropping the pools of unchanged servers (their existing
 * connections keep serving: the farm server's connection ids and handshake counts show it); a
 * broken file is reported and ignored; a removed server drains and its connections are closed
 * by the gateway. Counts, never times.
 */
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer, type FarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { runCli } from '../helpers/cli-child.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

function adminStats(port: number): Promise<{ farms: Array<{ name: string; servers: Array<{ name: string; state: string; pools: Array<{ open: number; counters: { handshakesFull: number; handshakesResumed: number } }> }> }> }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/stats' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

t.test('SIGHUP reload under load: new max-conn and a new server, pools of unchanged servers kept; a broken file is ignored', async (t) => {
  const f = await pkiFiles();
  const farm: FarmServer[] = [];
  for (const name of ['s1', 's2']) {
    const s = await startFarmServer({ name, cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
    t.teardown(() => s.close());
    farm.push(s);
  }
  const [s1, s2] = farm as [FarmServer, FarmServer];
  const port = await deadPort();
  const adminPort = await deadPort();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-reload-')), 'longhaul.yaml');
  const write = (maxConn: number | string, servers: FarmServer[]) =>
    writeFileSync(
      file,
      `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
admin: { bind: "127.0.0.1:${adminPort}" }
log: { level: info, access: false }
farms:
  - name: f
    balance: roundrobin
    tls: { ca: ${f.caFile}, sni: farm.test }
    pool: { max-conn: ${maxConn} }
    servers:
${servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}" }`).join('\n')}
`,
    );
  write(2, [s1]);
  const cli = runCli(file);
  t.teardown(() => void (cli.child.exitCode === null && cli.child.kill('SIGKILL')));
  const send = () => oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
  let up = 0;
  for (let i = 0; i < 100 && up !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    up = await send().then((r) => r.status, () => 0);
  }
  t.equal(up, 200, 'the gateway is up');

  // Four clients send requests until told to stop (bounded by count and time).
  const statuses: number[] = [];
  let stop = false;
  const deadline = Date.now() + 30_000;
  const clients = Array.from({ length: 4 }, async () => {
    while (!stop && Date.now() < deadline && statuses.length < 5000) statuses.push(await send().then((r) => r.status, () => 0));
  });
  const until = async (cond: () => boolean): Promise<boolean> => {
    for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    return cond();
  };

  t.ok(await until(() => statuses.length >= 20), 'traffic flows before the reload');
  const connsBefore = new Set(s1.stats.perConnection.map((c) => c.id));
  const handshakesBefore = s1.stats.handshakes;
  const s1RequestsBefore = s1.requests.length;

  write(4, [s1, s2]);
  cli.child.kill('SIGHUP');
  t.ok(await cli.waitForOutput('configuration reloaded'), 'the reload was applied');
  const atReload = statuses.length;
  t.ok(await until(() => s2.requests.length >= 10 && statuses.length >= atReload + 40), 'the new server gets requests');

  const afterReload = s1.requests.slice(s1RequestsBefore);
  const onOldConns = afterReload.filter((r) => connsBefore.has(r.connId)).length;
  t.ok(onOldConns > 0, `requests to the unchanged server still ride its pre-reload connections (${onOldConns} of ${afterReload.length})`);
  t.ok(s1.stats.handshakes - handshakesBefore <= 2, `the unchanged server saw at most 2 new handshakes (max-conn 2 → 4): ${s1.stats.handshakes - handshakesBefore}`);
  t.equal(s1.stats.connectionClosedByClient, 0, 'no connection of the unchanged server was closed by the reload');
  const stats = await adminStats(adminPort);
  t.same(
    stats.farms[0]!.servers.map((s) => s.name),
    ['s1', 's2'],
    '/stats lists the new server',
  );

  // A broken file: reported with its errors, ignored.
  writeFileSync(file, 'listeners: []\nfarms:\n  - name: f\n    pool: { max-conn: -1 }\n    servers: []\n');
  const rejectedBefore = count(cli.out(), 'reload rejected');
  cli.child.kill('SIGHUP');
  t.ok(await cli.waitForOutput(/reload rejected/), 'the broken file was reported');
  t.equal(count(cli.out(), 'reload rejected'), rejectedBefore + 1);
  t.match(cli.out(), /farms\[0\]\.pool\.max-conn/, 'with the key path of an error');
  const stillThere = await adminStats(adminPort);
  t.same(
    stillThere.farms[0]!.servers.map((s) => s.name),
    ['s1', 's2'],
    'the running config stayed',
  );
  const atBroken = statuses.length;
  t.ok(await until(() => statuses.length >= atBroken + 20), 'traffic still flows');

  // Remove s1: it drains, the gateway closes its connections (FIN).
  write(4, [s2]);
  const reloadsBefore = count(cli.out(), 'configuration reloaded');
  cli.child.kill('SIGHUP');
  t.ok(await until(() => count(cli.out(), 'configuration reloaded') > reloadsBefore), 'the removal was applied');
  const atRemoval = statuses.length;
  t.ok(await until(() => statuses.length >= atRemoval + 20 && s1.stats.openConnections === 0), 'the removed server has no connection left');
  t.ok(s1.stats.connectionClosedByClient >= 1, 'its connections were closed by the gateway');
  t.equal(s1.stats.connectionClosedByServer, 0, 'none by the server');

  stop = true;
  await Promise.all(clients);
  const bad = statuses.filter((s) => s !== 200);
  t.same(bad, [], `no client error in ${statuses.length} requests across three reloads`);
  cli.child.kill('SIGTERM');
  t.equal(await cli.exited, 0, `exit 0 ${cli.err()}`);
});
