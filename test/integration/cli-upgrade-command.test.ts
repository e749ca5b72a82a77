// Issue 12 item 9: `longhaul upgrade --pid-file FILE`, the SIGUSR2 handover as a command that
// waits for the outcome: 1 at once when the new process refuses its config (the old one serves
// on), 0 once the pid file names the new process; 1 when the file names no running gateway.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { CLI, waitForGateway } from '../helpers/cli-child.js';
import { killQuietly, startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

function upgrade(pidFile: string, extra: string[] = []): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, 'upgrade', '--pid-file', pidFile, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

t.test('longhaul upgrade: failure reported, success reported', async (t) => {
  const f = await pkiFiles();
  const farm = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => farm.close());
  const port = await deadPort();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-upgrade-cmd-'));
  const pidFile = path.join(dir, 'gw.pid');
  const config = (ca: string) => `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: info, access: false }
farms:
  - { name: f, tls: { ca: ${ca}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:${farm.port}" }] }
`;
  t.equal((await upgrade(path.join(dir, 'none.pid'))).code, 1, 'no pid file: 1');

  const good = path.join(dir, 'gw.yaml');
  writeFileSync(good, config(f.caFile));
  const old = startGatewayProcess(good, ['--pid-file', pidFile]);
  let newPid = 0;
  t.teardown(() => {
    old.child.kill('SIGKILL');
    killQuietly(newPid);
  });
  t.ok(await old.waitForLog('ready'), old.err());
  writeFileSync(good, config(path.join(dir, 'missing.pem')));
  const failed = await upgrade(pidFile);
  t.equal(failed.code, 1, 'a new process that refuses its config: exit 1');
  t.match(failed.err, /exited before it was ready; pid \d+ serves on/, `says so: ${failed.err}`);
  t.equal(readFileSync(pidFile, 'utf8'), `${old.child.pid}\n`);
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 5), 200, 'the old one serves on');

  writeFileSync(good, config(f.caFile));
  const ok = await upgrade(pidFile);
  t.equal(ok.code, 0, `upgraded: exit 0 ${ok.err}`);
  t.match(ok.out, new RegExp(`^upgraded: pid ${old.child.pid} → \\d+`));
  newPid = Number(readFileSync(pidFile, 'utf8').trim());
  t.not(newPid, old.child.pid);
  t.equal(await old.exited, 0, 'the old one drained and exited 0');
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 5), 200, 'the new one serves');
  process.kill(newPid, 'SIGTERM');
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(newPid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  newPid = 0;
});
