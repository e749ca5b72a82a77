import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-sni-cfg-'));
for (const f of ['gw.crt', 'gw.key', 'a.crt', 'a.key']) writeFileSync(path.join(dir, f), 'x');
const doc = (sni: string) => `listeners:
  - name: clients
    bind: 127.0.0.1:0
    farm: api
    tls:
      cert: gw.crt
      key: gw.key
${sni}farms:
  - { name: api, servers: [{ name: a, address: "10.0.0.1:443" }] }
`;

t.test('sni-certs: default [], names lowercased or null, files resolved', async (t) => {
  const none = loadConfigText(doc(''), {}, dir);
  t.ok(none.ok && none.config.listeners[0]!.tls.sniCerts.length === 0, 'absent: []');
  const r = loadConfigText(doc('      sni-certs:\n        - { cert: a.crt, key: a.key, names: [A.Branch.test, "*.b.test"] }\n        - { cert: a.crt, key: a.key }\n'), {}, dir);
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  if (!r.ok) return;
  t.same(r.config.listeners[0]!.tls.sniCerts, [
    { cert: path.join(dir, 'a.crt'), key: path.join(dir, 'a.key'), names: ['a.branch.test', '*.b.test'] },
    { cert: path.join(dir, 'a.crt'), key: path.join(dir, 'a.key'), names: null },
  ]);
});

t.test('sni-certs errors name their key paths', async (t) => {
  const r = loadConfigText(doc('      sni-certs:\n        - { cert: a.crt, key: missing.key, names: [a.test, "bad name"] }\n        - { cert: a.crt, key: a.key, names: [a.test], extra: 1 }\n        - { key: a.key, names: [] }\n'), {}, dir);
  t.notOk(r.ok);
  if (r.ok) return;
  const text = formatIssues(r.issues);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[0\]\.key: file not found: .*missing\.key/);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[0\]\.names\[1\]: "bad name" is not a host name or \*\.host name/);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[1\]\.names\[0\]: duplicate SNI name "a\.test" \(already used by listeners\[0\]\.tls\.sni-certs\[0\]\.names\[0\]\)/);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[1\]\.extra: unknown key/);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[2\]\.cert: is required/);
  t.match(text, /listeners\[0\]\.tls\.sni-certs\[2\]\.names: must list at least one name/);
});
