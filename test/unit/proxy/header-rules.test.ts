import t from 'tap';
import { checkHost, upstreamHost } from '../../../src/balancer/host-header.js';
import { applyResponseRules } from '../../../src/proxy/header-rules.js';
import { downstreamResponseHead, upstreamRequestHeaders } from '../../../src/proxy/hop-headers.js';

const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]);

t.test('upstreamHost: sni default per tls.sni kind; keep; literal', async (t) => {
  t.equal(upstreamHost(undefined, 'fixed', 'api.example.net', 443), 'api.example.net', 'default sni, port 443 omitted');
  t.equal(upstreamHost({ kind: 'sni' }, 'fixed', 'api.example.net', 8443), 'api.example.net:8443');
  t.equal(upstreamHost({ kind: 'sni' }, 'address', 'srv1.example.net', 443), 'srv1.example.net');
  t.equal(upstreamHost({ kind: 'sni' }, 'address', null, 443), undefined, 'IP address, no SNI: keep');
  t.equal(upstreamHost({ kind: 'sni' }, 'host', 'a.test', 443), undefined, 'sni: host: Host already is the SNI');
  t.equal(upstreamHost({ kind: 'sni' }, 'none', null, 443), undefined);
  t.equal(upstreamHost({ kind: 'keep' }, 'fixed', 'api.example.net', 443), undefined);
  t.equal(upstreamHost({ kind: 'literal', value: 'vhost.example:8080' }, 'none', null, 443), 'vhost.example:8080');
  t.equal(checkHost({ kind: 'keep' }, 'fixed', 'api.example.net', '10.0.0.1', 8443), 'api.example.net:8443', 'check with keep: the SNI');
  t.equal(checkHost({ kind: 'keep' }, 'none', null, '::1', 8443), '[::1]:8443', 'no SNI: the address, bracketed');
});

t.test('request: Host replaced in place, client Host in X-Forwarded-Host, rules after hop-by-hop', async (t) => {
  const client: Array<[string, string]> = [['Host', 'gw.branch.local:8443'], ['Connection', 'keep-alive, X-Hop'], ['X-Hop', '1'], ['X-Debug', 'on'], ['X-Env', 'dev'], ['Accept', '*/*']];
  const out = upstreamRequestHeaders(client, {
    remoteAddress: '10.1.2.3', keepContentLength: false, host: 'api.example.net',
    rules: { set: [['X-Env', 'prod']], add: [['Accept', 'text/plain']], remove: ['x-debug'] },
  });
  t.same(pairs(out), [
    ['Host', 'api.example.net'], ['Accept', '*/*'],
    ['x-forwarded-for', '10.1.2.3'], ['x-forwarded-proto', 'https'], ['x-forwarded-host', 'gw.branch.local:8443'],
    ['X-Env', 'prod'], ['Accept', 'text/plain'],
  ]);
  const same = upstreamRequestHeaders([['Host', 'API.example.net']], { remoteAddress: '10.1.2.3', keepContentLength: false, host: 'api.example.net' });
  t.notOk(pairs(same).some(([n]) => n === 'x-forwarded-host'), 'Host not rewritten (same name): no X-Forwarded-Host');
  const kept = upstreamRequestHeaders([['Host', 'gw']], { remoteAddress: '10.1.2.3', keepContentLength: false });
  t.same(pairs(kept)[0], ['Host', 'gw'], 'no host option: kept');
  const trusted = upstreamRequestHeaders([['Host', 'gw'], ['X-Forwarded-Host', 'orig.example']], { remoteAddress: '10.1.2.3', keepContentLength: false, host: 'api', forwarded: { mode: 'append' } });
  t.same(pairs(trusted).filter(([n]) => n.toLowerCase() === 'x-forwarded-host'), [['x-forwarded-host', 'orig.example']], 'trusted peer: its X-Forwarded-Host is kept, not doubled');
});

t.test('response: rules after hop-by-hop; set replaces every copy; add keeps repeated headers', async (t) => {
  const raw = ['Server', 'jetty', 'Connection', 'close', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Powered-By', 'x', 'Content-Length', '2'].map((s) => Buffer.from(s));
  const head = downstreamResponseHead(raw, { set: [['X-Frame-Options', 'DENY']], add: [['Set-Cookie', 'c=3']], remove: ['server', 'x-powered-by'] });
  t.same(head.headers, [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Frame-Options', 'DENY'], ['Set-Cookie', 'c=3']]);
  t.equal(head.serverClose, true);
  t.equal(head.contentLength, 2);
  const list: Array<[string, string]> = [['x-a', '1'], ['X-A', '2']];
  t.same(applyResponseRules(list, { set: [['X-A', '3']], add: [], remove: [] }), [['X-A', '3']]);
  t.equal(applyResponseRules(list, { set: [], add: [], remove: [] }), list, 'no rules: the same list, no copy');
});
