import t, { type Test } from 'tap';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

const BASE = (health: string, admin = '') => `
listeners:
  - { name: clients, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }
${admin}
farms:
  - name: api
    tls: { ca: ca.pem }
    ${health}
    servers:
      - { name: s1, address: 10.0.0.1:443 }
`;

function load(t: Test, text: string) {
  const dir = t.testdir({ 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x', token: 'tok\n' });
  return loadConfigText(text, {}, dir);
}

t.test('health.timeout defaults to inter; observe none; error-limit 10', async (t) => {
  const r = load(t, BASE('health: { inter: 3s }'));
  if (!r.ok) return t.fail(formatIssues(r.issues));
  t.match(r.config.farms[0]!.health, { enabled: true, inter: 3000, timeout: 3000, observe: 'none', errorLimit: 10 });
});

t.test('health.timeout, observe and error-limit are read', async (t) => {
  const r = load(t, BASE('health: { timeout: 750ms, observe: layer7, error-limit: 4 }', 'admin: { bind: 127.0.0.1:9901, token-file: token }'));
  if (!r.ok) return t.fail(formatIssues(r.issues));
  t.match(r.config.farms[0]!.health, { timeout: 750, observe: 'layer7', errorLimit: 4 });
  t.match(r.config.admin?.tokenFile, /token$/);
});

t.test('bad values name their key path', async (t) => {
  const r = load(t, BASE('health: { timeout: 0, observe: layer9, error-limit: 0 }'));
  if (r.ok) return t.fail('accepted');
  const at = (p: string) => r.issues.find((i) => i.path === p)?.message;
  t.match(at('farms[0].health.observe'), /must be one of: none, layer4, layer7/);
  t.match(at('farms[0].health.error-limit'), /must be an integer >= 1/);
  t.match(at('farms[0].health.timeout'), /at least 1ms/);
});
