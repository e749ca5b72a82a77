// `longhaul admin …`: the real CLI (bin/longhaul.js, a child process) against a running gateway.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { oneShotRequest, type OneShotResult } from '../../src/demo/one-shot-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { until } from '../helpers/until.js';
import { CLI } from '../helpers/cli-child.js';

interface CliResult { code: number | null; stdout: string; stderr: string }

function cli(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI, 'admin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-admin-cli-'));
const tokenFile = path.join(dir, 'token');
writeFileSync(tokenFile, 'cli-token\n', { mode: 0o600 });

/** A YAML config naming the harness's admin listener: the CLI finds address and token there. */
function configFile(h: Harness): string {
  const f = path.join(dir, `longhaul-${h.gateway.admin!.port}.yaml`);
  writeFileSync(
    f,
    `listeners:
  - { name: clients, bind: "127.0.0.1:0", farm: farm, tls: { cert: ${h.pki.gatewayCert}, key: ${h.pki.gatewayKey} } }
admin: { bind: "127.0.0.1:${h.gateway.admin!.port}", token-file: ${tokenFile} }
farms:
  - name: farm
    tls: { ca: ${h.pki.caFile}, sni: farm.test }
    servers:
${h.servers.map((s) => `      - { name: ${s.name}, address: 127.0.0.1:${s.port} }`).join('\n')}
`,
  );
  return f;
}

const get = (h: Harness, p: string) => oneShotRequest({ host: '127.0.0.1', port: h.port, path: p, ca: h.pki.pki.ca.certPem, servername: 'localhost' });

t.test('servers: table and --json; errors exit 1 with a clear message', async (t) => {
  const h = await startHarness({ servers: 2, admin: { tokenFile }, serverOver: [{}, { backup: true }] });
  t.teardown(() => h.close());
  const addr = ['--admin', `127.0.0.1:${h.gateway.admin!.port}`];
  const [table, json, unknown, noToken, refused, usage] = await Promise.all([
    cli(['servers', ...addr, '--token-file', tokenFile]),
    cli(['servers', '--json', '--config', configFile(h)]),
    cli(['drain', 'farm/nope', ...addr, '--token-file', tokenFile]),
    cli(['servers', ...addr]),
    deadPort().then((p) => cli(['servers', '--admin', `http://127.0.0.1:${p}`])),
    cli(['weight', 'farm/s1']),
  ]);
  t.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  t.match(lines[0], /^FARM\s+SERVER\s+ADDRESS\s+STATE\s+ADMIN\s+WEIGHT\s+BACKUP/);
  t.match(lines[1], /^farm\s+s1\s+127\.0\.0\.1:\d+\s+UP\s+ready\s+100\s+no\s+0\s+0\s+no checks/);
  t.match(lines[2], /^farm\s+s2\s+.*\s+UP\s+ready\s+100\s+yes/);
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), { farms: [{ name: 'farm', servers: [{ name: 's1', state: 'UP' }, { name: 's2', backup: true }] }] }, '--config gives address and token');
  t.equal(unknown.code, 1);
  t.equal(unknown.stderr, 'longhaul admin: no server named "nope" in farm "farm" (servers: s1, s2) (HTTP 404)\n');
  t.equal(noToken.code, 1);
  t.match(noToken.stderr, /unauthorized \(HTTP 401\): this gateway needs a token: pass --token-file/);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /the admin listener isn't reachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /admin weight needs FARM\/SERVER N/);
});

t.test('drain via the CLI while requests flow: zero errors; maint closes idle connections; ready, weight', async (t) => {
  const h = await startHarness({ servers: 2, admin: { tokenFile }, farm: { balance: 'roundrobin' } });
  t.teardown(() => h.close());
  const config = configFile(h);
  const [s1, s2] = h.gateway.farms.get('farm')!.servers;
  const appRequests = (i: number) => h.servers[i]!.requests.length;
  const results: OneShotResult[] = [];
  let stop = false;
  const load = Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let i = 0; i < 3000 && !stop; i++) results.push(await get(h, '/slow/5'));
    }),
  );
  await until(() => appRequests(0) >= 5 && appRequests(1) >= 5, 'load on both servers');

  const drain = await cli(['drain', 'farm/s1', '--config', config]);
  t.equal(drain.code, 0, drain.stderr);
  t.match(drain.stdout, /^farm\/s1: DRAIN \(admin drain, weight 100, \d+ in flight\)\n$/);
  await until(() => s1!.active === 0, 'in-flight requests on s1 finished');
  const settled = appRequests(0);
  const s2Before = appRequests(1);
  await until(() => appRequests(1) >= s2Before + 20, '20 more requests on s2');
  t.equal(appRequests(0), settled, 'no new request reached the drained server');
  t.equal(s1!.pools()[0]!.snapshot().idle >= 1, true, 'DRAIN keeps its idle connections');

  const maint = await cli(['maint', 'farm/s1', '--config', config]);
  t.equal(maint.code, 0, maint.stderr);
  t.match(maint.stdout, /farm\/s1: MAINT/);
  t.equal(s1!.pools()[0]!.snapshot().open, 0, 'MAINT closed its idle connections');
  await until(() => h.servers[0]!.stats.openConnections === 0, 'the server sees no connection left');

  const ready = await cli(['ready', 'farm/s1', '--config', config]);
  t.equal(ready.code, 0, ready.stderr);
  t.match(ready.stdout, /farm\/s1: UP \(admin ready/);
  const s1Back = appRequests(0);
  await until(() => appRequests(0) >= s1Back + 10, 'traffic back on s1');

  const weight = await cli(['weight', 'farm/s2', '7', '--config', config]);
  t.equal(weight.code, 0, weight.stderr);
  t.match(weight.stdout, /farm\/s2: UP \(admin ready, weight 7,/);
  t.equal(s2!.weight, 7);

  stop = true;
  await load;
  const errors = results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`);
  t.same(errors, [], `zero client errors in ${results.length} requests`);
});
