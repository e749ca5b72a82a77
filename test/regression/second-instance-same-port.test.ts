// Issue 12 item 9: a second longhaul on a port silently shared it, because uSockets (engine uws)
// sets SO_REUSEPORT on every listen socket by default. Now the listen is exclusive
// (LIBUS_LISTEN_EXCLUSIVE_PORT) unless `run --reuse-port`; engine node never set it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

t.test('without --reuse-port a second gateway on the same port refuses to start', async (t) => {
  const f = await pkiFiles();
  const port = await deadPort();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-second-')), 'gw.yaml');
  for (const engine of ['uws', 'node']) {
    writeFileSync(file, `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", engine: ${engine}, farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: info, access: false }
farms:
  - { name: f, tls: { ca: ${f.caFile}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:9" }] }
`);
    const first = startGatewayProcess(file);
    t.ok(await first.waitForLog('ready'), `${engine}: the first one starts ${first.err()}`);
    const second = startGatewayProcess(file);
    // Bounded: before the fix the second one started and kept running.
    const outcome = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
    second.child.kill('SIGKILL');
    t.equal(outcome, 1, `${engine}: the second one exits 1`);
    t.match(second.err(), /not starting: listener clients: could not listen on 127\.0\.0\.1:\d+\b.*--reuse-port/, `${engine}: says why`);
    first.child.kill('SIGTERM');
    t.equal(await first.exited, 0);
  }
});
