// `longhaul check`: engine uws is a warning (exit 0, names the key path), the default engine none.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pkiFiles } from '../helpers/pki-files.js';
import { CLI } from '../helpers/cli-child.js';

t.test('check warns about engine: uws and still accepts the file', async (t) => {
  const f = await pkiFiles();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-engine-'));
  const file = (name: string, engine: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, `listeners:
  - name: clients
    bind: 127.0.0.1:0
${engine}    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} }
    farm: api
farms:
  - name: api
    servers:
      - { name: a, address: 127.0.0.1:9443 }
`);
    return p;
  };
  const run = (p: string) => spawnSync(process.execPath, [...CLI, 'check', '--config', p], { encoding: 'utf8', timeout: 60_000 });
  const uws = run(file('uws.yaml', '    engine: uws\n'));
  t.equal(uws.status, 0, uws.stderr);
  t.match(uws.stderr, /1 warning\(s\)\n {2}listeners\[0\]\.engine: engine uws is opt-in and has known parser gaps/);
  const def = run(file('default.yaml', ''));
  t.equal(def.status, 0, def.stderr);
  t.notMatch(def.stderr, /warning/);
});
