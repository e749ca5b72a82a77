import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CLI } from '../helpers/cli-child.js';

const BIN = CLI;

function runCli(args: string[]) {
  const r = spawnSync(process.execPath, [...BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** File name → sha256 + mtime + mode, for "changes nothing". */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    const st = statSync(p);
    out[f] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${st.mtimeMs} ${(st.mode & 0o777).toString(8)}`;
  }
  return out;
}

/** `key: value` lines of one `certificate N:` block of `certs inspect` output. */
function inspectFields(out: string, n = 1): Record<string, string> {
  const block = out.split(/^certificate \d+:$/m)[n] ?? '';
  const fields: Record<string, string> = {};
  for (const m of block.matchAll(/^ {2}([a-zA-Z0-9 ]+):\s+(.*)$/gm)) fields[m[1]!.trim()] = m[2]!;
  return fields;
}

const opensslDn = (s: string) => s.trim().replace(/\s*=\s*/g, '=');

for (const keyType of ['rsa', 'ec'] as const) {
  t.test(`certs init --key-type ${keyType}: files, modes, refusal without --force, inspect matches openssl`, async (t) => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-certs-')), 'out');
    const init = ['certs', 'init', '--dns', 'gw.branch.local', '--dns', 'localhost', '--ip', '10.1.2.3', '--out', dir, '--key-type', keyType];
    const first = runCli(init);
    t.equal(first.code, 0, `init exits 0 ${first.err}`);
    const before = snapshot(dir);
    t.same(Object.keys(before), ['ca.crt', 'ca.key', 'gateway.crt', 'gateway.key', 'truststore.p12', 'truststore.password']);
    for (const secret of ['ca.key', 'gateway.key', 'truststore.password']) t.equal(before[secret]!.split(' ')[2], '600', `${secret} is 0600`);
    t.ok(readFileSync(path.join(dir, 'truststore.password'), 'utf8').trim().length >= 32, 'a long random password');

    const again = runCli(init);
    t.equal(again.code, 1, 'second init without --force fails');
    t.match(again.err, /refusing to overwrite existing files \(use --force\)/);
    t.same(snapshot(dir), before, 'and changes nothing');

    // certs inspect vs openssl x509 -text on the leaf
    const insp = runCli(['certs', 'inspect', path.join(dir, 'gateway.crt')]);
    t.equal(insp.code, 0, insp.err);
    const mine = inspectFields(insp.out);
    const text = execFileSync('openssl', ['x509', '-in', path.join(dir, 'gateway.crt'), '-noout', '-text'], { encoding: 'utf8' });
    t.equal(mine.subject, opensslDn(/Subject: (.*)/.exec(text)![1]!), 'subject');
    t.equal(mine.issuer, opensslDn(/Issuer: (.*)/.exec(text)![1]!), 'issuer');
    t.equal(mine.SANs, /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(text)![1]!.trim(), 'SANs');
    t.equal(Date.parse(mine['not after']!.split(' ')[0]!), Date.parse(/Not After : (.*)/.exec(text)![1]!), 'expiry');
    t.equal(Date.parse(mine['not before']!), Date.parse(/Not Before: (.*)/.exec(text)![1]!), 'start');
    const fp = execFileSync('openssl', ['x509', '-in', path.join(dir, 'gateway.crt'), '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    t.equal(mine.sha256, fp.split('=')[1]!.trim(), 'fingerprint');
    t.match(mine.key, keyType === 'ec' ? /^ECDSA P-256/ : /^RSA 2048/);
    execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', path.join(dir, 'gateway.crt')]);

    // certs inspect vs openssl pkcs12 -info on the truststore
    const p12 = runCli(['certs', 'inspect', path.join(dir, 'truststore.p12')]);
    t.equal(p12.code, 0, p12.err);
    t.match(p12.out, /MAC verified with the password/);
    const ts = inspectFields(p12.out);
    t.match(ts.alias, /\(Java trusted certificate entry\)/);
    const info = execFileSync('openssl', ['pkcs12', '-info', '-in', path.join(dir, 'truststore.p12'), '-passin', `file:${path.join(dir, 'truststore.password')}`, '-nokeys'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    t.equal(ts.subject, opensslDn(/^subject=(.*)$/m.exec(info)![1]!), 'truststore subject');
    t.match(info, /2\.16\.840\.1\.113894\.746875\.1\.1|Trusted key usage/, 'openssl sees Oracle trusted-key-usage attribute');
    const caEnd = execFileSync('openssl', ['x509', '-noout', '-enddate'], { input: /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(info)![0], encoding: 'utf8' });
    t.equal(Date.parse(ts['not after']!.split(' ')[0]!), Date.parse(caEnd.split('=')[1]!), 'truststore CA expiry');
    t.equal(ts.sha256, inspectFields(runCli(['certs', 'inspect', path.join(dir, 'ca.crt')]).out).sha256, 'truststore holds ca.crt');

    if (has('keytool')) {
      const list = execFileSync('keytool', ['-list', '-keystore', path.join(dir, 'truststore.p12'), '-storetype', 'PKCS12', '-storepass:file', path.join(dir, 'truststore.password')], { encoding: 'utf8' });
      t.match(list, /longhaul-branch-ca, .*trustedCertEntry/, 'keytool lists a trustedCertEntry');
    }

    // renew: new leaf and key, same CA, same SANs, truststore untouched
    const renew = runCli(['certs', 'renew', '--out', dir]);
    t.equal(renew.code, 0, renew.err);
    const after = snapshot(dir);
    for (const f of ['ca.crt', 'ca.key', 'truststore.p12', 'truststore.password']) t.equal(after[f], before[f], `${f} unchanged by renew`);
    t.not(after['gateway.crt'], before['gateway.crt'], 'new gateway.crt');
    t.not(after['gateway.key'], before['gateway.key'], 'new gateway.key');
    t.equal(after['gateway.key']!.split(' ')[2], '600');
    t.equal(inspectFields(runCli(['certs', 'inspect', path.join(dir, 'gateway.crt')]).out).SANs, mine.SANs, 'SANs kept');
    execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'gateway.crt')]);

    const forced = runCli([...init, '--force']);
    t.equal(forced.code, 0, '--force overwrites');
    t.not(snapshot(dir)['ca.crt'], before['ca.crt'], 'with a new CA');
  });
}

t.test('certs usage errors exit 2', async (t) => {
  t.equal(runCli(['certs', 'init', '--out', '/nonexistent/x']).code, 1, 'init without --dns/--ip is refused');
  t.equal(runCli(['certs', 'init', '--dns', 'a', '--key-type', 'dsa']).code, 2);
  t.equal(runCli(['certs', 'frobnicate']).code, 2);
  t.equal(runCli(['certs', 'inspect']).code, 2);
});
