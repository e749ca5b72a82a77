import t, { type Test } from 'tap';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

// Issue 13 items 1, 2: host-header, request-headers / response-headers, discover.

const BASE = (farm: string, servers = '    servers:\n      - { name: s1, address: 10.0.0.1:443 }') => `
listeners:
  - { name: clients, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }
farms:
  - name: api
    tls: { ca: ca.pem, sni: api.example.net }
${farm}
${servers}
`;

function load(t: Test, text: string) {
  const dir = t.testdir({ 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x' });
  return loadConfigText(text, {}, dir);
}

t.test('defaults: host-header sni, no header rules, no discover', async (t) => {
  const r = load(t, BASE(''));
  if (!r.ok) return t.fail(formatIssues(r.issues));
  const f = r.config.farms[0]!;
  t.same(f.hostHeader, { kind: 'sni' });
  t.same(f.requestHeaders, { set: [], add: [], remove: [] });
  t.same(f.responseHeaders, { set: [], add: [], remove: [] });
  t.equal(f.discover, null);
});

t.test('host-header, header rules and discover are read', async (t) => {
  const r = load(
    t,
    BASE(`    host-header: API.example.net:8443
    request-headers: { set: { X-Env: prod }, add: { X-Tag: [a, b] }, remove: [X-Debug] }
    response-headers: { remove: [Server] }
    discover: { name: api.example.net, port: 443, every: 10s, max-servers: 4, resolvers: [127.0.0.1:5353, "::1"], pool: { max-conn: 3 } }`, '    servers: []'),
  );
  if (!r.ok) return t.fail(formatIssues(r.issues));
  const f = r.config.farms[0]!;
  t.same(f.hostHeader, { kind: 'literal', value: 'api.example.net:8443' });
  t.same(f.requestHeaders, { set: [['X-Env', 'prod']], add: [['X-Tag', 'a'], ['X-Tag', 'b']], remove: ['x-debug'] });
  t.same(f.responseHeaders!.remove, ['server']);
  t.match(f.discover, { name: 'api.example.net', port: 443, type: 'A', every: 10_000, maxServers: 4, resolvers: ['127.0.0.1:5353', '[::1]:53'], timeout: 2000, weight: 1, pool: { maxConn: 3 } });
  t.same(f.servers, []);
});

t.test('discover without tls.sni: the SNI is the discovered name (SRV: without _service._proto)', async (t) => {
  const text = (d: string) => `
listeners:
  - { name: clients, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }
farms:
  - { name: api, tls: { ca: ca.pem }, discover: ${d} }
`;
  const a = load(t, text('{ name: api.example.net, port: 443 }'));
  if (!a.ok) return t.fail(formatIssues(a.issues));
  t.same(a.config.farms[0]!.tls.sni, { kind: 'fixed', name: 'api.example.net' });
  const s = load(t, text('{ name: _https._tcp.api.example.net, type: SRV }'));
  if (!s.ok) return t.fail(formatIssues(s.issues));
  t.same(s.config.farms[0]!.tls.sni, { kind: 'fixed', name: 'api.example.net' });
});

t.test('bad values are all reported, each at its key path', async (t) => {
  const r = load(
    t,
    `
listeners:
  - { name: clients, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }
farms:
  - name: api
    tls: { ca: ca.pem, sni: none }
    host-header: sni
    request-headers: { set: { "Bad Name": x, Host: y, X-Ok: "a\\r\\nInjected: 1" }, remove: [Connection, X-Forwarded-For] }
    response-headers: { add: { Content-Length: "5" } }
    discover: { name: "not a name", type: A, every: 0, max-servers: 0, resolvers: [dns.example.net], pool: { max-conn: 2, min-idle: 3 } }
  - name: other
    tls: { ca: ca.pem }
    discover: { name: api.example.net, type: SRV }
  - name: empty
    tls: { ca: ca.pem }
`,
  );
  if (r.ok) return t.fail('accepted');
  const at = (p: string) => r.issues.filter((i) => i.path === p).map((i) => i.message).join(' | ');
  t.match(at('farms[0].host-header'), /tls.sni is none/);
  t.match(at('farms[0].request-headers.set.Bad Name'), /not a valid header name/);
  t.match(at('farms[0].request-headers.set.Host'), /host-header/);
  t.match(at('farms[0].request-headers.set.X-Ok'), /CR, LF, NUL/);
  t.match(at('farms[0].request-headers.remove[0]'), /hop-by-hop/);
  t.match(at('farms[0].request-headers.remove[1]'), /forwarded-for/);
  t.match(at('farms[0].response-headers.add.Content-Length'), /framing/);
  t.match(at('farms[0].discover.name'), /not a DNS name/);
  t.match(at('farms[0].discover.every'), /at least 1ms/);
  t.match(at('farms[0].discover.max-servers'), /from 1 to 256/);
  t.match(at('farms[0].discover.resolvers[0]'), /no host names/);
  t.match(at('farms[0].discover.port'), /required for type A/);
  t.match(at('farms[0].discover.pool.min-idle'), /must be <= max-conn \(2\)/);
  t.match(at('farms[1].discover.name'), /not an SRV name/);
  t.match(at('farms[2].servers'), /at least one server \(or add discover/);
});
