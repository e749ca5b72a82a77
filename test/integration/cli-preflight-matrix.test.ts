// Issue 12 item 6: `check` runs the same preflight as `run`. Each bad case: `check` exits 1 and
// names the key path; `run` refuses to start (exit 1) with exactly the same issue lines, and
// nothing listens. Real files, real CLI processes (sources through tsx).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CLI } from '../helpers/cli-child.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles, type PkiFiles } from '../helpers/pki-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-preflight-'));
const w = (name: string, data: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
};

interface Files { cert: string; key: string; ca: string; token: string | null }
const config = (port: number, x: Files): string => `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", farm: f, tls: { cert: ${x.cert}, key: ${x.key} } }
${x.token ? `admin: { bind: "127.0.0.1:0", token-file: ${x.token} }` : ''}
log: { level: warn }
farms:
  - { name: f, tls: { ca: ${x.ca}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:9" }] }
`;

const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
/** The `  <key path>: <message>` lines. */
const issueLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('  '));

const CASES: Array<{ name: string; files: (f: PkiFiles) => Files; keys: string[]; message: RegExp }> = [
  {
    name: 'a key that is not its certificate\'s',
    files: (f) => ({ cert: f.gatewayCert, key: f.farmKey, ca: f.caFile, token: null }),
    keys: ['listeners[0].tls.key'], message: /is not the private key of .*gateway\.crt/,
  },
  {
    name: 'a certificate file that is not PEM',
    files: (f) => ({ cert: w('junk.crt', 'not a certificate\n'), key: f.gatewayKey, ca: f.caFile, token: null }),
    keys: ['listeners[0].tls.cert'], message: /junk\.crt is not a PEM certificate/,
  },
  {
    name: 'a key file that is not a key',
    files: (f) => ({ cert: f.gatewayCert, key: w('junk.key', 'garbage\n'), ca: f.caFile, token: null }),
    keys: ['listeners[0].tls.key'], message: /junk\.key is not a usable PEM private key/,
  },
  {
    name: 'a junk farm CA bundle (names the file)',
    files: (f) => ({ cert: f.gatewayCert, key: f.gatewayKey, ca: w('junk-ca.pem', 'hello\n'), token: null }),
    keys: ['farms[0].tls.ca'], message: /junk-ca\.pem holds no PEM certificate/,
  },
  {
    name: 'a CA bundle with a broken certificate block',
    files: (f) => ({ cert: f.gatewayCert, key: f.gatewayKey, ca: w('broken-ca.pem', `${f.pki.ca.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`), token: null }),
    keys: ['farms[0].tls.ca'], message: /broken-ca\.pem: certificate 2 of 2 does not parse/,
  },
  {
    name: 'an empty admin token file',
    files: (f) => ({ cert: f.gatewayCert, key: f.gatewayKey, ca: f.caFile, token: w('empty.token', '\n') }),
    keys: ['admin.token-file'], message: /is empty/,
  },
  {
    name: 'every problem at once',
    files: (f) => ({ cert: w('junk2.crt', 'x\n'), key: f.farmKey, ca: w('junk2-ca.pem', 'x\n'), token: w('empty2.token', '') }),
    keys: ['listeners[0].tls.cert', 'farms[0].tls.ca', 'admin.token-file'], message: /./,
  },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const f = await pkiFiles();
    const port = await deadPort();
    const file = w(`${c.name.replace(/\W+/g, '-')}.yaml`, config(port, c.files(f)));
    const check = cli('check', '--config', file);
    t.equal(check.status, 1, `check exits 1: ${check.stdout}${check.stderr}`);
    const checked = issueLines(check.stderr);
    t.same(checked.map((l) => l.trim().split(': ')[0]), c.keys, 'check names the key paths, all at once');
    t.match(checked.join('\n'), c.message);
    const run = cli('run', '--config', file);
    t.equal(run.status, 1, 'run refuses to start');
    t.match(run.stderr, /error\(s\); not starting/);
    t.same(issueLines(run.stderr), checked, 'run refuses with the same issue lines');
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
}

t.test('the good config: check says ok, and the same files pass run\'s preflight', async (t) => {
  const f = await pkiFiles();
  const file = w('good.yaml', config(await deadPort(), { cert: f.gatewayCert, key: f.gatewayKey, ca: f.caFile, token: w('good.token', 'secret\n') }));
  const check = cli('check', '--config', file);
  t.equal(check.status, 0, check.stderr);
  t.match(check.stdout, /: ok \(1 listener/);
});
