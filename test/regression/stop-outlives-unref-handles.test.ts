// Issue 12 item 2 (pid file left behind after exit 0, seen in clean-clone CI runs). Cause: during
// `gw.stop()` the only things left to wait for were idle backend sockets that undici had
// unref()'d (an idle Client unrefs its socket), the connections' close_notify grace timers and
// the farms' 5 s bound — all unref'd. When a server is slow to answer our close_notify + FIN,
// the event loop ran empty in the middle of stop(): node exited with code 0 on its own, before
// the pid file was removed and before the "stopped" line. Reproduced here on purpose with a farm
// server that never closes its side (half-open after our FIN): the gateway must still finish
// its stop sequence — "stopped" logged, pid file removed — and exit 0.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

t.test('a server that never answers our FIN does not cut the stop sequence short', async (t) => {
  const f = await pkiFiles();
  const sockets = new Set<tls.TLSSocket>();
  let ends = 0;
  // HTTP/1.1 keep-alive responder that stays half-open after the peer's close_notify + FIN.
  const farm = tls.createServer({ cert: f.pki.farm.certPem, key: f.pki.farm.keyPem, allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('end', () => ends++);
    s.on('close', () => sockets.delete(s));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=300\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((r) => farm.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    farm.close();
  });
  const farmPort = (farm.address() as { port: number }).port;
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-stop-unref-'));
  const file = path.join(dir, 'gw.yaml');
  const pidFile = path.join(dir, 'gw.pid');
  const port = await deadPort();
  writeFileSync(file, `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: info, access: false }
shutdown-grace: 2s
farms:
  - name: f
    tls: { ca: ${f.caFile}, sni: farm.test }
    pool: { min-idle: 2 }
    health: { path: /health, inter: 60s }
    servers: [{ name: s1, address: "127.0.0.1:${farmPort}" }]
`);
  const gw = startGatewayProcess(file, ['--pid-file', pidFile]);
  t.teardown(() => void gw.child.kill('SIGKILL'));
  t.ok(await gw.waitForLog('ready'), gw.err());
  t.equal(readFileSync(pidFile, 'utf8'), `${gw.child.pid}\n`);
  for (let i = 0; i < 100 && sockets.size < 3; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(sockets.size, 3, "two warm backend connections and the health check connection");
  // A few exchanges: a connection that served one and went idle has its socket unref'd by undici.
  for (let i = 0; i < 4; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/x', ca: f.pki.ca.certPem, servername: 'localhost' });
    t.equal(r.status, 200, `request ${i} served`);
  }
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'exit 0');
  t.ok(ends >= 3, `the server saw our FIN on every connection (${ends})`);
  t.ok(gw.out().includes('"msg":"stopped"'), 'the stop sequence ran to its end ("stopped" logged)');
  t.notOk(existsSync(pidFile), 'pid file removed at exit');
});
