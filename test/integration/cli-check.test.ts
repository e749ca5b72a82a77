import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pkiFiles } from '../helpers/pki-files.js';
import { CLI } from '../helpers/cli-child.js';

const BIN = CLI;

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [...BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

t.test('longhaul check: good config exits 0; each broken one prints its key path and exits non-zero', async (t) => {
  const f = await pkiFiles();
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-cli-'));
  const base = (farm: string, listener = '') => `listeners:
  - name: clients
    bind: 127.0.0.1:0
    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} }
    farm: us-api
${listener}farms:
  - name: us-api
    tls: { ca: ${f.caFile}, sni: farm.test }
${farm}`;
  const good = base(`    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`);
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const ok = runCli(['check', '--config', write('good.yaml', good)]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /ok/);

  const broken: Array<[string, string, RegExp]> = [
    ['bad duration', base(`    timeouts: { connect: 5 parsecs }\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`), /farms\[0\]\.timeouts\.connect/],
    ['negative max-conn', base(`    pool: { max-conn: -1 }\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`), /farms\[0\]\.pool\.max-conn/],
    ['typo in a key', base(`    pool: { max-con: 4 }\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`), /farms\[0\]\.pool\.max-con/],
    ['unknown farm', base(`    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`).replace('farm: us-api', 'farm: eu-api'), /listeners\[0\]\.farm/],
    ['bad address', base(`    servers:\n      - { name: a, address: nowhere }\n`), /farms\[0\]\.servers\[0\]\.address/],
    ['min-idle above max-conn', base(`    pool: { max-conn: 2, min-idle: 5 }\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`), /farms\[0\]\.pool\.min-idle/],
    ['missing certificate file', base(`    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`).replace(f.gatewayCert, '/nonexistent/gw.crt'), /listeners\[0\]\.tls\.cert/],
    ['unset variable', base(`    pool: { max-conn: \${LONGHAUL_TEST_UNSET_VAR} }\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`), /LONGHAUL_TEST_UNSET_VAR/],
  ];
  for (const [name, text, pathRe] of broken) {
    const r = runCli(['check', '--config', write(`${name.replace(/\W+/g, '-')}.yaml`, text)]);
    t.not(r.code, 0, `${name}: exit code`);
    t.match(r.err, pathRe, `${name}: names the key path`);
  }

  // Two problems at once are both reported.
  const two = runCli(['check', '--config', write('two.yaml', base(`    pool: { max-conn: 0 }\n    retries: lots\n    servers:\n      - { name: a, address: 127.0.0.1:9443 }\n`))]);
  t.match(two.err, /farms\[0\]\.pool\.max-conn/);
  t.match(two.err, /farms\[0\]\.retries/);

  // `run` refuses to start on a bad file.
  const run = runCli(['run', '--config', path.join(dir, 'bad-address.yaml')]);
  t.equal(run.code, 1);
  t.match(run.err, /not starting/);
});
