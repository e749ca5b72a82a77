// Issue 12 items 1 and 2: `run --pid-file` writes the gateway's own PID once it listens and
// removes it at exit; under systemd (NOTIFY_SOCKET) it sends READY=1 through systemd-notify once
// the listeners accept, and STOPPING=1 on SIGTERM. The notification socket is a real unix
// datagram socket (test/helpers/notify-socket.py); systemd-notify is Debian's (package systemd).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { waitForGateway } from '../helpers/cli-child.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

const haveNotify = spawnSync('systemd-notify', ['--help'], { encoding: 'utf8' }).status === 0;
const havePython = spawnSync('python3', ['-c', 'pass']).status === 0;

t.test('pid file and READY=1 / STOPPING=1 over a unix datagram socket', { skip: !haveNotify || !havePython ? 'needs systemd-notify (Debian package systemd) and python3' : false }, async (t) => {
  const f = await pkiFiles();
  const farm = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => farm.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-notify-'));
  const sock = path.join(dir, 'notify.sock');
  const receiver = spawn('python3', [path.resolve('test/helpers/notify-socket.py'), sock, '60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void receiver.kill());
  let received = '';
  receiver.stdout.on('data', (d: Buffer) => (received += d));
  for (let i = 0; i < 100 && !received.includes('bound'); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(received, /bound/, 'notification socket bound');
  const messages = (): string[] => received.split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as string);

  const port = await deadPort();
  const file = path.join(dir, 'gw.yaml');
  const pidFile = path.join(dir, 'longhaul.pid');
  writeFileSync(file, `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: info, access: false }
farms:
  - { name: f, tls: { ca: ${f.caFile}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:${farm.port}" }] }
`);
  const gw = startGatewayProcess(file, ['--pid-file', pidFile], { NOTIFY_SOCKET: sock });
  t.teardown(() => void gw.child.kill('SIGKILL'));
  t.ok(await gw.waitForLog('ready'), gw.err());
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200);
  t.equal(readFileSync(pidFile, 'utf8'), `${gw.child.pid}\n`, 'the pid file holds the gateway process itself (one process)');
  for (let i = 0; i < 100 && !messages().some((m) => m.includes('READY=1')); i++) await new Promise((r) => setTimeout(r, 50));
  const ready = messages().filter((m) => m.includes('READY=1'));
  t.equal(ready.length, 1, `one READY=1: ${JSON.stringify(messages())}`);
  t.match(ready[0], new RegExp(`STATUS=listening: clients :${port}`));
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
  t.ok(messages().some((m) => m === 'STOPPING=1'), `STOPPING=1 sent: ${JSON.stringify(messages())}`);
  // Removed before the exit, not after: the stop sequence keeps the process alive until it has
  // run to its end (test/regression/stop-outlives-unref-handles.test.ts has the cause).
  t.ok(gw.out().includes('"msg":"stopped"'), 'the stop sequence ran to its end');
  t.notOk(existsSync(pidFile), 'pid file removed at exit');
});
