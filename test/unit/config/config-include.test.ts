// `include:` (issue 12 item 2): paths relative to the including file, cycles refused with the
// key path, merge rules of config-merge.ts, the merged result validated as one file.
import t from 'tap';
import path from 'node:path';
import { formatIssues, loadConfigFile } from '../../../src/config/load-config.js';

const COMMON = `
log: { level: warn }
shutdown-grace: 20s
listeners:
  - { name: clients, bind: 127.0.0.1:8443, farm: api, tls: { cert: certs/gw.crt, key: certs/gw.key } }
farms:
  - name: api
    retry-on: [conn-failure]
    pool: { max-conn: 8, min-idle: 2 }
    tls: { ca: certs/ca.pem, sni: api.example.net }
    health: { inter: 3s }
    servers:
      - { name: s1, address: 10.0.0.1:443 }
`;

t.test('a region file over a common part: merge by key, by name in named lists, relative paths per file', async (t) => {
  const dir = t.testdir({
    common: { 'base.yaml': COMMON, certs: { 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x' } },
    'sg.yaml': `
include: common/base.yaml
farms:
  - name: api
    retry-on: [conn-failure, empty-response]
    pool: { max-conn: 24 }
    servers:
      - { name: s1, weight: 3, address: 10.0.0.1:443 }
      - { name: s2, address: 10.0.0.2:443 }
`,
  });
  const r = loadConfigFile(path.join(dir, 'sg.yaml'), {});
  if (!r.ok) return t.fail(formatIssues(r.issues));
  const farm = r.config.farms[0]!;
  t.equal(r.config.shutdownGrace, 20_000, 'scalar from the included file');
  t.same(farm.retryOn, ['conn-failure', 'empty-response'], 'a plain list is replaced whole');
  t.equal(farm.pool.maxConn, 24, 'mapping merged: the region wins on max-conn');
  t.equal(farm.pool.minIdle, 2, 'mapping merged: min-idle kept from the common part');
  t.equal(farm.health.inter, 3000);
  t.same(farm.servers.map((s) => [s.name, s.weight]), [['s1', 3], ['s2', 1]], 'servers merged by name, new ones appended');
  t.equal(r.config.listeners[0]!.tls.cert, path.join(dir, 'common/certs/gw.crt'), 'relative to the file that holds the path');
  t.equal(farm.tls.ca, path.join(dir, 'common/certs/ca.pem'));
});

t.test('the merged result is validated as one file', async (t) => {
  const dir = t.testdir({
    'base.yaml': COMMON.replace(/certs\//g, ''), 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x',
    'bad.yaml': 'include: [base.yaml]\nfarms:\n  - { name: api, pool: { max-conn: 1 } }\n',
  });
  const r = loadConfigFile(path.join(dir, 'bad.yaml'), {});
  t.notOk(r.ok);
  if (r.ok) return;
  t.match(formatIssues(r.issues), /farms\[0\]\.pool\.min-idle: must be <= max-conn \(1\)/, 'min-idle 2 from base vs max-conn 1 from the region');
});

t.test('cycles are refused with the key path and the chain', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'include: b.yaml\n', 'b.yaml': 'include: [c.yaml]\n', 'c.yaml': 'include: [a.yaml]\n' });
  const r = loadConfigFile(path.join(dir, 'a.yaml'), {});
  t.notOk(r.ok);
  if (r.ok) return;
  const cycle = r.issues.find((i) => i.path === 'include');
  t.ok(cycle, formatIssues(r.issues));
  t.match(cycle?.message, /include\[0\]: .*c\.yaml: include\[0\]: include cycle: .*a\.yaml → .*b\.yaml → .*c\.yaml → .*a\.yaml/);
});

t.test('a missing or broken included file names the include key and the file', async (t) => {
  const dir = t.testdir({ 'broken.yaml': 'farms: [\n', 'top.yaml': 'include: [missing.yaml, broken.yaml]\nlisteners: []\n' });
  const r = loadConfigFile(path.join(dir, 'top.yaml'), {});
  t.notOk(r.ok);
  if (r.ok) return;
  const at = (p: string) => r.issues.filter((i) => i.path === p).map((i) => i.message).join('\n');
  t.match(at('include[0]'), /file not found: .*missing\.yaml/);
  t.match(at('include[1]'), /broken\.yaml: line \d+, column \d+: YAML syntax error/);
  t.match(at('include'), '', 'no stray path');
});

t.test('include must be a path or a list of paths', async (t) => {
  const dir = t.testdir({ 'top.yaml': 'include: { a: 1 }\n' });
  const r = loadConfigFile(path.join(dir, 'top.yaml'), {});
  t.notOk(r.ok);
  if (r.ok) return;
  t.match(r.issues.find((i) => i.path === 'include')?.message, /must be a file path or a list of file paths/);
});

t.test('deploy/regions examples: only their /etc/longhaul files are missing here', async (t) => {
  for (const region of ['singapore-us', 'india-europe']) {
    const r = loadConfigFile(path.resolve(`deploy/regions/${region}.yaml`), {});
    t.notOk(r.ok, 'the certificate files do not exist on this machine');
    if (r.ok) continue;
    t.same(r.issues.filter((i) => !/^file not found: \/etc\/longhaul\//.test(i.message)), [], `${region}: nothing else wrong`);
  }
});
