// Issue 12 item 9 on the default engine (node): SIGUSR2 upgrade by listening-socket handover
// (src/main/listener-handover.ts). The old process starts its own command line again with the
// listening sockets inherited (one kernel socket, one accept queue); the new one starts, warms
// its farm, listens on them, writes the pid file and says "ready"; the old one stops accepting
// and drains, exit 0. Client loops of one-shot TLS requests (`Connection: close`, a new TCP +
// TLS connection each) run throughout and count every refused / reset / failed exchange: 0.
// First, an upgrade whose new process refuses its config changes nothing (the old one says why
// and serves on). Under a systemd stand-in (NOTIFY_SOCKET, test/helpers/notify-socket.py; needs
// Debian's systemd-notify and python3, else that part is skipped) the new process announces
// READY=1 with MAINPID=<its pid> before the old one stops, and the old one never sends
// STOPPING=1 (the service goes on). Bounded: at most MAX requests, LOOPS at a time, loopback only.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { waitForGateway } from '../helpers/cli-child.js';
import { killQuietly, startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

const MAX = 4000;
const LOOPS = 4;
const AFTER = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (out: string, msg: string) => out.split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`) || l.includes(`"msg":"${msg}`));

function adminHealth(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
  });
}

t.test('SIGUSR2 upgrade on engine node: zero refused, zero reset, every response 200', async (t) => {
  const f = await pkiFiles();
  const farm = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => farm.close());
  const port = await deadPort();
  const adminPort = await deadPort();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-upgrade-'));
  const file = path.join(dir, 'gw.yaml');
  const pidFile = path.join(dir, 'gw.pid');
  const config = (ca: string) => `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", engine: node, farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
admin: { bind: "127.0.0.1:${adminPort}" }
log: { level: info, access: false }
shutdown-grace: 30s
farms:
  - { name: f, tls: { ca: ${ca}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:${farm.port}" }] }
`;
  writeFileSync(file, config(f.caFile));
  const withNotify = existsSync('/usr/bin/systemd-notify') && existsSync('/usr/bin/python3');
  const sock = path.join(dir, 'notify.sock');
  let received = '';
  if (withNotify) {
    const receiver = spawn('/usr/bin/python3', [path.resolve('test/helpers/notify-socket.py'), sock, '120'], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => void receiver.kill());
    receiver.stdout.on('data', (d: Buffer) => (received += d));
    for (let i = 0; i < 100 && !received.includes('bound'); i++) await sleep(50);
  }
  const messages = (): string[] => received.split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as string);
  const old = startGatewayProcess(file, ['--pid-file', pidFile], withNotify ? { NOTIFY_SOCKET: sock } : {});
  let newPid = 0;
  t.teardown(() => {
    old.child.kill('SIGKILL');
    killQuietly(newPid);
  });
  t.ok(await old.waitForLog('ready'), `old gateway ready ${old.err()}`);
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200, 'old gateway serves');
  t.equal(readFileSync(pidFile, 'utf8'), `${old.child.pid}\n`);

  // 1. The new process refuses its configuration: nothing changes.
  writeFileSync(file, config(path.join(dir, 'missing-ca.pem')));
  old.child.kill('SIGUSR2');
  for (let i = 0; i < 300 && lines(old.out(), 'upgrade failed').length === 0; i++) await sleep(50);
  const failed = lines(old.out(), 'upgrade failed')[0] ?? '';
  t.match(failed, /before it was ready; still serving/, `the old process logs the failed upgrade: ${failed}`);
  t.match(failed, /farms\[0\]\.tls\.ca/, 'and why (the key path the new process refused)');
  t.equal(old.child.exitCode, null, 'the old process serves on');
  t.equal(readFileSync(pidFile, 'utf8'), `${old.child.pid}\n`, 'pid file unchanged');
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 1), 200, 'still answering');
  writeFileSync(file, config(f.caFile));

  // 2. A real upgrade under load.
  const count = { requests: 0, ok: 0, refused: 0, reset: 0, otherErrors: 0, non200: 0 };
  const errors = new Map<string, number>();
  let phase: 'before' | 'upgrading' | 'after' = 'before';
  let afterOldExit = 0;
  const loop = async (): Promise<void> => {
    while (count.requests < MAX && afterOldExit < AFTER) {
      count.requests++;
      try {
        const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
        if (r.status === 200) count.ok++;
        else count.non200++, errors.set(`status ${r.status}`, (errors.get(`status ${r.status}`) ?? 0) + 1);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (code === 'ECONNREFUSED') count.refused++;
        else if (code === 'ECONNRESET') count.reset++;
        else count.otherErrors++;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
      if (phase === 'after') afterOldExit++;
    }
  };
  const loops = Promise.all(Array.from({ length: LOOPS }, loop));
  while (count.ok < 100 && count.requests < MAX) await sleep(20);
  // A slow request in flight on the old process: its drain lasts until it is answered.
  const slow = oneShotRequest({ host: '127.0.0.1', port, path: '/slow/12000', ca: f.pki.ca.certPem, servername: 'localhost' }).then(
    (r) => r.status,
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
  await sleep(200);
  phase = 'upgrading';
  const atSignal = count.requests;
  old.child.kill('SIGUSR2');
  for (let i = 0; i < 600 && (newPid === 0 || newPid === old.child.pid); i++) {
    await sleep(50);
    newPid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  }
  t.not(newPid, old.child.pid, `the pid file names the new process (${newPid}) ${old.err()}`);
  t.ok(newPid > 0);
  // A second SIGUSR2 while the old one drains is logged and ignored (node's default would kill it).
  t.ok(await old.waitForLog('upgrade: the new process is ready; this one stops accepting and drains'), 'the old process drains');
  old.child.kill('SIGUSR2');
  t.equal(await slow, 200, 'the request in flight on the old process was answered (graceful drain)');
  t.equal(await old.exited, 0, 'the old process drained and exited 0');
  t.ok(lines(old.out(), 'SIGUSR2: the gateway is stopping; no upgrade').length === 1, 'the second SIGUSR2 was ignored while draining');
  const duringUpgrade = count.requests - atSignal;
  phase = 'after';
  await loops;

  t.comment(`requests ${count.requests}: ok ${count.ok}, refused ${count.refused}, reset ${count.reset}, other errors ${count.otherErrors}, non-200 ${count.non200} (${duringUpgrade} sent between SIGUSR2 and the old process's exit)`);
  t.equal(count.refused, 0, 'no connection refused');
  t.equal(count.reset, 0, 'no connection reset');
  t.equal(count.otherErrors, 0, `no other failure ${JSON.stringify([...errors])}`);
  t.equal(count.non200, 0, 'every response 200');
  t.equal(count.ok, count.requests, 'every request answered');
  t.ok(duringUpgrade > 0, 'requests ran while the upgrade was in progress');
  t.ok(afterOldExit >= AFTER || count.requests >= MAX, 'and after the old process had exited');

  // The new process serves on: its log says it was upgraded from the old pid; the admin
  // listener moved with it; a SIGTERM to the new pid stops the port (it was the one serving).
  if (withNotify) {
    const ready = messages().filter((m) => m.includes('READY=1'));
    t.equal(ready.length, 2, `READY=1 from each process: ${JSON.stringify(messages())}`);
    t.match(ready[1], new RegExp(`MAINPID=${newPid}\\b`), 'the new process names itself the main PID');
    t.notOk(messages().includes('STOPPING=1'), 'the old process did not tell systemd the service stops');
  } else {
    t.comment('systemd-notify or python3 missing: MAINPID / STOPPING part not run');
  }
  const readyLines = lines(old.out(), 'ready');
  t.ok(readyLines.some((l) => l.includes(`"pid":${newPid}`) && l.includes(`"upgraded_from":${old.child.pid}`)), 'the new process logged ready, upgraded from the old pid');
  t.ok(lines(old.out(), 'upgrade: the new process is ready').length === 1, 'the old process saw it ready');
  t.equal(await adminHealth(adminPort), 200, 'the admin listener answers (inherited by the new process)');
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 1), 200, 'the new process serves');
  process.kill(newPid, 'SIGTERM');
  for (let i = 0; i < 200 && lines(old.out(), 'stopped').length < 2; i++) await sleep(50);
  t.equal(lines(old.out(), 'stopped').length, 2, 'both processes logged "stopped"');
  t.notOk(existsSync(pidFile), 'the new process removed its pid file at exit');
  const after = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' }).then(
    () => 'answered',
    (err: NodeJS.ErrnoException) => err.code,
  );
  t.equal(after, 'ECONNREFUSED', 'once the new pid is stopped nothing listens: it held the socket');
  newPid = 0;
});
