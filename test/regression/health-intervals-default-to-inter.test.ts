// Issue 12 item 10: HAProxy documents `fastinter` and `downinter` as defaulting to `inter`
// ("If not set, defaults to inter"); longhaul had fixed 500ms / 5s whatever `inter` was.
import t, { type Test } from 'tap';
import { formatIssues, loadConfigText } from '../../src/config/load-config.js';

const CONFIG = (health: string) => `
listeners:
  - { name: clients, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }
farms:
  - name: api
    health: ${health}
    servers:
      - { name: s1, address: 10.0.0.1:443 }
`;

const health = (t: Test, text: string) => {
  const dir = t.testdir({ 'gw.crt': 'x', 'gw.key': 'x' });
  const r = loadConfigText(CONFIG(text), {}, dir);
  if (!r.ok) throw new Error(formatIssues(r.issues));
  return r.config.farms[0]!.health;
};

t.test('fastinter and downinter follow inter when absent', async (t) => {
  t.match(health(t, '{ inter: 7s }'), { inter: 7000, fastinter: 7000, downinter: 7000 });
  t.match(health(t, '{}'), { inter: 2000, fastinter: 2000, downinter: 2000 });
});

t.test('explicit values win', async (t) => {
  t.match(health(t, '{ inter: 7s, fastinter: 1s, downinter: 30s }'), { inter: 7000, fastinter: 1000, downinter: 30000 });
});
