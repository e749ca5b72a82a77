/** listeners[].engine (default node), listeners[].forwarded-for, and the uws warning of `check`. */
import t, { type Test } from 'tap';
import type { GatewayConfig } from '../../../src/config/config-types.js';
import { configWarnings } from '../../../src/config/cross-checks.js';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

const dir = (t: Test): string => t.testdir({ 'g.crt': 'x', 'g.key': 'x' });
const text = (listenerExtra: string): string => `
listeners:
  - name: clients
    bind: 127.0.0.1:8443
    tls: { cert: g.crt, key: g.key }
    farm: api
${listenerExtra}farms:
  - name: api
    servers:
      - { name: s1, address: 10.0.0.1:443 }
`;
function ok(t: Test, extra: string): GatewayConfig {
  const r = loadConfigText(text(extra), {}, dir(t));
  if (!r.ok) throw new Error(formatIssues(r.issues));
  return r.config;
}
function issues(t: Test, extra: string): string {
  const r = loadConfigText(text(extra), {}, dir(t));
  return r.ok ? '' : formatIssues(r.issues);
}

t.test('engine: node by default, no warning; uws is a warning, not an error', async (t) => {
  const def = ok(t, '');
  t.equal(def.listeners[0]!.engine, 'node');
  t.same(configWarnings(def), []);
  const uws = ok(t, '    engine: uws\n');
  t.equal(uws.listeners[0]!.engine, 'uws');
  const w = configWarnings(uws);
  t.equal(w.length, 1);
  t.equal(w[0]!.path, 'listeners[0].engine');
  t.match(w[0]!.message, /empty header name.*LF-only chunk.*pipelined/);
});

t.test('forwarded-for: replace (default), append, trust in both spellings', async (t) => {
  t.same(ok(t, '').listeners[0]!.forwardedFor, { mode: 'replace' });
  t.same(ok(t, '    forwarded-for: append\n').listeners[0]!.forwardedFor, { mode: 'append' });
  t.same(ok(t, '    forwarded-for: trust 10.0.0.0/8, 192.168.7.2 2001:db8::/32\n').listeners[0]!.forwardedFor, {
    mode: 'trust',
    cidrs: [
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '192.168.7.2', prefix: 32, family: 'ipv4' },
      { address: '2001:db8::', prefix: 32, family: 'ipv6' },
    ],
  });
  t.same(ok(t, '    forwarded-for: { trust: [127.0.0.1] }\n').listeners[0]!.forwardedFor, { mode: 'trust', cidrs: [{ address: '127.0.0.1', prefix: 32, family: 'ipv4' }] });
});

t.test('forwarded-for: bad values name the key path', async (t) => {
  t.match(issues(t, '    forwarded-for: keep\n'), /listeners\[0\]\.forwarded-for: must be replace, append/);
  t.match(issues(t, '    forwarded-for: trust\n'), /listeners\[0\]\.forwarded-for: trust needs at least one/);
  t.match(issues(t, '    forwarded-for: trust 10.0.0.0/33\n'), /listeners\[0\]\.forwarded-for: "10\.0\.0\.0\/33": prefix must be 0 to 32/);
  t.match(issues(t, '    forwarded-for: { trust: [10.0.0.1, nowhere] }\n'), /listeners\[0\]\.forwarded-for\.trust\[1\]: "nowhere" is not an IPv4 or IPv6/);
});
