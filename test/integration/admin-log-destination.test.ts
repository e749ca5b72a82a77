/**
 * Issue 12 item 7, as a process: `longhaul run` with `engine: uws` logging to stdout writes
 * nothing but JSON lines there (the native module's `finding <name>` / `Browsed to SNI:` go to
 * /dev/null), and `log.destination: file:<path>` is reopened on SIGUSR1 (logrotate).
 */
import { spawn } from 'node:child_process';
import { CLI } from '../helpers/cli-child.js';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { runCli, waitForGateway } from '../helpers/cli-child.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { until } from '../helpers/until.js';

async function setup(t: { teardown(fn: () => unknown): void }, listenerExtra: string, log: string) {
  const f = await pkiFiles();
  const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => s.close());
  const port = await deadPort();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-logdest-'));
  const file = path.join(dir, 'longhaul.yaml');
  writeFileSync(
    file,
    `listeners:
  - name: clients
    bind: 127.0.0.1:${port}
    farm: f
    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey}, sni-certs: [{ cert: ${f.gatewayCert}, key: ${f.gatewayKey}, names: [localhost] }] }
${listenerExtra}log: ${log.replace('DIR', dir)}
farms:
  - name: f
    tls: { ca: ${f.caFile}, sni: farm.test }
    servers:
      - { name: s1, address: 127.0.0.1:${s.port} }
`,
  );
  const get = (servername: string) => oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername }).then((r) => r.status, () => 0);
  return { f, port, dir, file, get };
}

const jsonLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

t.test('engine uws, log to stdout (a file, as with `> gw.log` or StandardOutput=file:): every line is JSON', async (t) => {
  const { f, port, dir, file, get } = await setup(t, '    engine: uws\n', '{ level: info }');
  const outFile = path.join(dir, 'stdout.log');
  const outFd = openSync(outFile, 'w');
  const child = spawn(process.execPath, [...CLI, 'run', '--config', file], { stdio: ['ignore', outFd, 'pipe'] });
  closeSync(outFd);
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => child.kill('SIGKILL'));
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200);
  for (let i = 0; i < 3; i++) t.equal(await get('localhost'), 200, 'request with SNI localhost (an sni-certs name: uWS prints its lookups)');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  const lines = jsonLines(readFileSync(outFile, 'utf8'));
  t.ok(lines.filter((l) => l.includes('"msg":"access"')).length >= 4, 'access lines reached stdout');
  const notJson = lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } });
  t.same(notJson, [], 'nothing but JSON on stdout (no "finding …" / "Browsed to SNI" from uWS)');
});

t.test('log.destination file: reopened on SIGUSR1 after logrotate moved it', async (t) => {
  const { f, port, dir, file, get } = await setup(t, '', '{ level: info, destination: "file:DIR/gw.log" }');
  const cli = runCli(file);
  t.teardown(() => cli.child.kill('SIGKILL'));
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200);
  const log = path.join(dir, 'gw.log');
  await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('"msg":"access"'), 'first access line in the file');
  renameSync(log, `${log}.1`);
  cli.child.kill('SIGUSR1');
  await until(() => existsSync(log), 'a new file after SIGUSR1');
  t.equal(await get('localhost'), 200);
  await until(() => readFileSync(log, 'utf8').includes('"msg":"access"'), 'access line in the new file');
  cli.child.kill('SIGTERM');
  t.equal(await cli.exited, 0, 'SIGUSR1 did not stop the gateway; SIGTERM did, exit 0');
  const before = jsonLines(readFileSync(`${log}.1`, 'utf8'));
  const after = jsonLines(readFileSync(log, 'utf8'));
  t.equal(after.filter((l) => l.includes('"msg":"access"')).length, 1, 'one request after the rotation, one access line in the new file');
  t.ok(before.some((l) => l.includes('"msg":"listening"')), `start-up lines stayed in the rotated file: ${before.map((l) => (JSON.parse(l) as { msg: string }).msg).join(' / ')}`);
  t.ok(after.some((l) => l.includes('"msg":"stopping: no new connections; in-flight requests finish"')), `the stop was logged to the new file: ${after.map((l) => (JSON.parse(l) as { msg: string }).msg).join(' / ')}`);
  t.equal(cli.out().trim(), '', 'nothing on stdout');
});
