/**
 * Issue 15 item 5: the admin listener accepted a cross-site text/plain POST that drained a
 * server, answered any Host (DNS rebinding), and `check` accepted a non-loopback admin.bind
 * without a token. Each of these fails on main 030f2a2.
 */
import http from 'node:http';
import t from 'tap';
import { loadConfigText } from '../../src/config/load-config.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { startHarness } from '../helpers/harness.js';

function raw(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('a simple cross-site POST (text/plain, form) changes nothing: 415', async (t) => {
  const h = await startHarness({ servers: 1, admin: {} });
  t.teardown(() => h.close());
  const port = h.gateway.admin!.port;
  const host = `127.0.0.1:${port}`;
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const r = await raw(port, 'POST', '/servers/farm/s1', { host, 'content-type': type }, '{"state":"drain"}');
    t.equal(r.status, 415, `${type}: 415`);
    t.match(r.text, /unsupported_media_type/);
  }
  const none = await raw(port, 'POST', '/servers/farm/s1', { host }, '{"state":"drain"}');
  t.equal(none.status, 415, 'no Content-Type: 415');
  t.equal(h.gateway.farms.get('farm')!.servers[0]!.snapshot().state, 'UP', 'the server was not drained');
  const ok = await raw(port, 'POST', '/servers/farm/s1', { host, 'content-type': 'application/json; charset=utf-8' }, '{"state":"drain"}');
  t.equal(ok.status, 200, 'application/json is accepted');
  t.equal(h.gateway.farms.get('farm')!.servers[0]!.snapshot().state, 'DRAIN');
});

t.test('Host must name the admin listener (DNS rebinding): 421 otherwise', async (t) => {
  const h = await startHarness({ servers: 1, admin: { hosts: ['gw-admin.office.example'] } });
  t.teardown(() => h.close());
  const port = h.gateway.admin!.port;
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, 'localhost.evil.example']) {
    const r = await raw(port, 'GET', '/stats', { host });
    t.equal(r.status, 421, `Host ${host}: 421`);
    t.match(r.text, /bad_host/);
  }
  const post = await raw(port, 'POST', '/servers/farm/s1', { host: 'evil.example', 'content-type': 'application/json' }, '{"state":"maint"}');
  t.equal(post.status, 421, 'a rebinding POST is refused too');
  t.equal(h.gateway.farms.get('farm')!.servers[0]!.snapshot().state, 'UP');
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, 'gw-admin.office.example', `GW-ADMIN.office.example:${port}`]) {
    const r = await raw(port, 'GET', '/stats', { host });
    t.equal(r.status, 200, `Host ${host}: 200`);
  }
  t.equal((await raw(port, 'GET', '/health', { host: 'evil.example' })).status, 200, '/health (liveness) answers whatever the Host');
});

t.test('check and run refuse a non-loopback admin.bind without a token, naming admin.bind', async (t) => {
  const f = await pkiFiles();
  const text = (admin: string) => `listeners:
  - name: clients
    bind: 127.0.0.1:0
    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} }
    farm: farm
admin: ${admin}
farms:
  - name: farm
    tls: { ca: ${f.caFile}, sni: farm.test }
    servers:
      - { name: a, address: 127.0.0.1:9443 }
`;
  for (const bind of ['0.0.0.0:9900', '10.1.2.3:9900', '[::]:9900']) {
    const r = loadConfigText(text(`{ bind: "${bind}" }`), {}, f.dir);
    t.notOk(r.ok, `${bind} without token refused`);
    if (!r.ok) {
      t.ok(r.issues.some((i) => i.path === 'admin.bind' && /admin\.bind/.test(i.message) && /token-file/.test(i.message)), 'the error names admin.bind and admin.token-file');
    }
  }
  t.ok(loadConfigText(text('{ bind: "127.0.0.1:9900" }'), {}, f.dir).ok, 'loopback without token is fine');
  t.ok(loadConfigText(text('{ bind: "[::1]:9900" }'), {}, f.dir).ok, '::1 without token is fine');
});
