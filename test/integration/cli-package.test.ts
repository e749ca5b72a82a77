// Issue 12 item 1: the production install. `npm pack` builds dist/ (prepack) and packs it; the
// tarball, unpacked with the lockfile, installs with `npm ci --omit=dev --offline` (from the npm
// cache: no registry) and has neither tsx nor typescript; `bin/longhaul.js` then checks and runs
// a config as one node process. A checkout without dist/ gets a clear message, not a transpiler.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { waitForGateway } from '../helpers/cli-child.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 240_000 });

t.test('packed tarball: npm ci --omit=dev --offline, then check and run from dist/', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-pack-'));
  const pack = npm(['pack', '--pack-destination', dir, '--json'], process.cwd());
  t.equal(pack.status, 0, `npm pack: ${pack.stderr.slice(-2000)}`);
  const tarball = path.join(dir, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename);
  const x = spawnSync('tar', ['xzf', tarball, '-C', dir], { encoding: 'utf8' });
  t.equal(x.status, 0, x.stderr);
  const app = path.join(dir, 'package');
  t.ok(existsSync(path.join(app, 'dist/main/cli.js')), 'the tarball ships dist/');
  t.notOk(existsSync(path.join(app, 'src')), 'and not the sources');
  copyFileSync('package-lock.json', path.join(app, 'package-lock.json'));
  const ci = npm(['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], app);
  if (ci.status !== 0 && /ENOTCACHED/.test(ci.stderr)) return void t.comment(`SKIPPED: the npm cache lacks a package; this step needs the registry: ${ci.stderr.slice(0, 300)}`);
  t.equal(ci.status, 0, `npm ci --omit=dev --offline: ${ci.stderr.slice(-2000)}`);
  for (const dev of ['tsx', 'typescript', 'tap', 'esbuild']) t.notOk(existsSync(path.join(app, 'node_modules', dev)), `${dev} is not installed`);

  const f = await pkiFiles();
  const farm = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => farm.close());
  const port = await deadPort();
  const file = path.join(dir, 'office.yaml');
  writeFileSync(file, `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: warn }
farms:
  - { name: f, tls: { ca: ${f.caFile}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:${farm.port}" }] }
`);
  const bin = path.join(app, 'bin/longhaul.js');
  const check = spawnSync(process.execPath, [bin, 'check', '--config', file], { encoding: 'utf8', cwd: dir });
  t.equal(check.status, 0, check.stderr);
  const gw = spawn(process.execPath, [bin, 'run', '--config', file, '--pid-file', path.join(dir, 'gw.pid')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  gw.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => gw.on('exit', r));
  t.teardown(() => void gw.kill('SIGKILL'));
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200, `the installed gateway serves ${err}`);
  gw.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM to the PID stops it (one process, no npm or shell in between)');
});

t.test('bin/longhaul.js without dist/: exit 2 and says to build', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-nodist-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync('bin/longhaul.js', path.join(dir, 'bin/longhaul.js'));
  const r = spawnSync(process.execPath, [path.join(dir, 'bin/longhaul.js'), 'help'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /dist\/main\/cli\.js is missing: this checkout has not been built[\s\S]*npm run build/);
});
