import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { CLI, waitForGateway } from '../helpers/cli-child.js';
import { pkiFiles } from '../helpers/pki-files.js';

t.test('longhaul run serves a YAML config and exits 0 on SIGTERM', async (t) => {
  const f = await pkiFiles();
  const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => s.close());
  const port = await deadPort();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-run-')), 'longhaul.yaml');
  writeFileSync(
    file,
    `listeners:
  - { name: clients, bind: "127.0.0.1:\${TEST_PORT}", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: warn }
farms:
  - name: f
    tls: { ca: ${f.caFile}, sni: farm.test }
    pool: { max-conn: 2 }
    servers:
      - { name: s1, address: 127.0.0.1:${s.port} }
`,
  );
  const child = spawn(process.execPath, [...CLI, 'run', '--config', file], { env: { ...process.env, TEST_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const status = await waitForGateway(port, f.pki.ca.certPem);
  t.equal(status, 200, 'the gateway served a request from its YAML config');
  child.kill('SIGTERM');
  t.equal(await exited, 0, `exit code 0 after SIGTERM ${err}`);
  t.equal(s.stats.openConnections, 0, 'backend connections were closed');
  t.ok(s.stats.connectionClosedByClient >= 1, 'the gateway closed its backend connection (FIN), not the server');
});
