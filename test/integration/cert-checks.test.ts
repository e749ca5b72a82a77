import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildCertificate, generateKeyPem } from '../../src/certs/certificate-builder.js';
import { silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { CLI } from '../helpers/cli-child.js';

const BIN = CLI;
const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-certcheck-'));
const w = (name: string, data: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
};

t.test('longhaul run refuses a key that is not its certificate\'s, naming both files', async (t) => {
  const f = await pkiFiles();
  const file = w('wrong-key.yaml', `listeners:
  - { name: clients, bind: "127.0.0.1:0", farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.farmKey} } }
farms:
  - { name: f, tls: { ca: ${f.caFile} }, servers: [{ name: s1, address: "127.0.0.1:9" }] }
`);
  const r = spawnSync(process.execPath, [...BIN, 'run', '--config', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, 'exit code 1');
  t.equal(r.stderr.trim(), `${file}: 1 error(s); not starting\n  listeners[0].tls.key: ${f.farmKey} is not the private key of ${f.gatewayCert} (certificate and key do not match)`);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('a certificate expiring within 30 days: the gateway starts and /stats says so', async (t) => {
  const f = await pkiFiles();
  const k = await generateKeyPem('ec');
  const cert = w('soon.crt', buildCertificate({ commonName: 'localhost', subjectKeyPem: k, issuer: { certPem: f.pki.ca.certPem, keyPem: f.pki.ca.keyPem }, days: 12, ca: false, dns: ['localhost'] }));
  const key = w('soon.key', k);
  const lines: string[] = [];
  const log = Object.assign(Object.create(silentLogger), { warn: (m: unknown) => lines.push(String(m)) }) as typeof silentLogger;
  const gw = await Gateway.start(gatewayConfig([listenerConfig('farm', cert, key)], [farmConfig('farm', f.caFile, [serverConfig('s1', 9)])]), log);
  t.teardown(() => gw.stop());
  const stats = gw.stats() as { certificates: Array<{ where: string; days_left: number; warning?: string }>; certificate_warnings: string[] };
  t.equal(stats.certificates.length, 1);
  t.equal(stats.certificates[0]!.where, 'listeners[0].tls');
  t.equal(stats.certificates[0]!.days_left, 11);
  t.match(stats.certificate_warnings, [/^listeners\[0\]\.tls: certificate .*soon\.crt expires in 11 day\(s\)/]);
  t.match(lines, [/soon\.crt expires in 11 day\(s\)/], 'logged at start');
});
