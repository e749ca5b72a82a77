// Issue 12 item 9, engine uws: uWS.js has no listening-socket descriptor to hand over
// (uws-listener.ts listenFd), so SIGUSR2 on a gateway with a uws listener is refused (logged,
// nothing changes) unless it runs with --reuse-port; then the same ready-then-drain sequence
// runs with the new process binding its own SO_REUSEPORT socket. Its logs reach the same stream
// as the old one's (uws points fd 1 at /dev/null and logs on a second descriptor of stdout:
// that descriptor becomes the new process's stdout). A client loop counts every failure; what
// SO_REUSEPORT cannot avoid (the old socket's queue, reset when it closes) is bounded as in
// cli-reuse-port-handover.test.ts. Bounded: at most MAX requests.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { waitForGateway } from '../helpers/cli-child.js';
import { killQuietly, oneFarmConfig, startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

const MAX = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const has = (out: string, msg: string) => out.split('\n').some((l) => l.includes(`"msg":"${msg}`));

t.test('SIGUSR2 with a uws listener: refused without --reuse-port, handed over with it', async (t) => {
  const f = await pkiFiles();
  const farm = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => farm.close());
  const port = await deadPort();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-upgrade-uws-'));
  const file = path.join(dir, 'gw.yaml');
  const pidFile = path.join(dir, 'gw.pid');
  writeFileSync(file, oneFarmConfig({ port, engine: 'uws', cert: f.gatewayCert, key: f.gatewayKey, ca: f.caFile, farmPort: farm.port }));
  let newPid = 0;
  t.teardown(() => killQuietly(newPid));

  // Without --reuse-port: refused, nothing spawned, still serving.
  const plain = startGatewayProcess(file, ['--pid-file', pidFile]);
  t.teardown(() => void plain.child.kill('SIGKILL'));
  t.ok(await plain.waitForLog('ready'), plain.err());
  plain.child.kill('SIGUSR2');
  for (let i = 0; i < 200 && !has(plain.out(), 'SIGUSR2: upgrade refused: engine uws cannot hand its listening socket over'); i++) await sleep(50);
  t.ok(has(plain.out(), 'SIGUSR2: upgrade refused: engine uws cannot hand its listening socket over'), 'refused, saying why');
  t.equal(readFileSync(pidFile, 'utf8'), `${plain.child.pid}\n`, 'pid file unchanged');
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 5), 200, 'still serving');
  plain.child.kill('SIGTERM');
  t.equal(await plain.exited, 0);

  // With --reuse-port: the new process binds beside the old one, then the old one drains.
  const old = startGatewayProcess(file, ['--pid-file', pidFile, '--reuse-port']);
  t.teardown(() => void old.child.kill('SIGKILL'));
  t.ok(await old.waitForLog('ready'), old.err());
  t.equal(await waitForGateway(port, f.pki.ca.certPem), 200);
  const count = { requests: 0, ok: 0, reset: 0, other: 0 };
  const errors = new Map<string, number>();
  let after = 0;
  let oldGone = false;
  const loop = (async () => {
    while (count.requests < MAX && after < 100) {
      count.requests++;
      try {
        const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
        if (r.status === 200) count.ok++;
        else count.other++, errors.set(`status ${r.status}`, (errors.get(`status ${r.status}`) ?? 0) + 1);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (code === 'ECONNRESET') count.reset++;
        else count.other++;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
      if (oldGone) after++;
    }
  })();
  while (count.ok < 50 && count.requests < MAX) await sleep(20);
  old.child.kill('SIGUSR2');
  for (let i = 0; i < 600 && (newPid === 0 || newPid === old.child.pid); i++) {
    await sleep(50);
    newPid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  }
  t.not(newPid, old.child.pid, `the pid file names the new process ${old.err()}`);
  t.equal(await old.exited, 0, 'the old process drained and exited 0');
  oldGone = true;
  await loop;
  t.comment(`requests ${count.requests}: ok ${count.ok}, reset ${count.reset}, other ${count.other}`);
  t.equal(count.other, 0, `nothing refused or failed but resets ${JSON.stringify([...errors])}`);
  t.ok(count.reset <= 2, `at most 2 resets from the old SO_REUSEPORT queue (${count.reset})`);
  t.ok(has(old.out(), 'ready') && old.out().includes(`"upgraded_from":${old.child.pid}`), 'the new process logs on the same stream');
  t.equal(await waitForGateway(port, f.pki.ca.certPem, 5), 200, 'the new process serves');
  process.kill(newPid, 'SIGTERM');
  for (let i = 0; i < 200 && existsSync(pidFile); i++) await sleep(50);
  t.notOk(existsSync(pidFile), 'the new process stopped and removed its pid file');
  newPid = 0;
});
