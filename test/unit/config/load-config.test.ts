import { join } from 'node:path';
import { DEFAULT_LISTENER_CIPHERS } from '../../../src/core/client-access-policy.js';
import t, { type Test } from 'tap';
import type { GatewayConfig, PoolConfig } from '../../../src/config/config-types.js';
import { formatIssues, loadConfigFile, loadConfigText } from '../../../src/config/load-config.js';

/** A directory holding the files a config may reference (contents are not read). */
function certDir(t: Test): string {
  return t.testdir({ certs: { 'gateway.crt': 'x', 'gateway.key': 'x', 'farm-ca.pem': 'x', 'client.crt': 'x', 'client.key': 'x' }, 'admin.token': 'x' });
}

function load(t: Test, text: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const r = loadConfigText(text, env, certDir(t));
  if (!r.ok) t.fail(`unexpected issues:\n${formatIssues(r.issues)}`);
  return (r as { config: GatewayConfig }).config;
}

const MINIMAL = `
listeners:
  - name: clients
    bind: 127.0.0.1:8443
    tls: { cert: certs/gateway.crt, key: certs/gateway.key }
    farm: api
farms:
  - name: api
    servers:
      - { name: s1, address: 10.0.0.1:443 }
`;

const DEFAULT_POOL: PoolConfig = {
  maxConn: 12, maxIdle: 12, minIdle: 0, idleTimeout: 290_000, provenWindow: 2_000, maxReuse: 0, maxAge: 0, purgeInterval: 5_000, burst: 'open', maxQueue: 0,
};

t.test('a minimal config gets every documented default', async (t) => {
  const dir = certDir(t);
  const r = loadConfigText(MINIMAL, {}, dir);
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  if (!r.ok) return;
  t.strictSame(r.config, {
    listeners: [{
      name: 'clients',
      bind: { host: '127.0.0.1', port: 8443 },
      engine: 'node',
      tls: {
        cert: join(dir, 'certs/gateway.crt'), key: join(dir, 'certs/gateway.key'), sniCerts: [],
        minVersion: 'TLSv1.2', ciphers: DEFAULT_LISTENER_CIPHERS, clientCa: null, verify: 'required', subjectHeader: null,
      },
      access: { allow: null, maxConn: 2000 },
      farm: 'api',
      timeouts: { client: 30_000, httpRequest: 10_000, httpKeepAlive: 10_000 },
      forwardedFor: { mode: 'replace' },
      minUploadRate: 1024,
    }],
    admin: null,
    log: { level: 'info', access: true, destination: 'stdout' },
    shutdownGrace: 30_000,
    stateFile: null,
    farms: [{
      name: 'api',
      balance: 'leastconn',
      httpReuse: 'always',
      private: false,
      retries: 3,
      redispatch: true,
      requestIdCheck: true,
      retryOn: ['conn-failure', 'empty-response'],
      replayBuffer: 65_536,
      requestBuffer: 65_536,
      timeouts: { connect: 5_000, server: 60_000, queue: 10_000 },
      tls: { ca: null, sni: { kind: 'address' }, verify: true, cert: null, key: null, minVersion: 'TLSv1.2', ciphers: null, maxHostPools: 64, sniAllow: null, warmHostPools: false },
      pool: DEFAULT_POOL,
      health: {
        enabled: false, path: '/health', method: 'GET', expectStatus: 200,
        inter: 2_000, fastinter: 2_000, downinter: 2_000, rise: 2, fall: 3, disableOn404: false,
        timeout: 2_000, observe: 'none', errorLimit: 10,
      },
      servers: [{ name: 's1', address: { host: '10.0.0.1', port: 443 }, weight: 1, backup: false, pool: DEFAULT_POOL }],
      hostHeader: { kind: 'sni' },
      requestHeaders: { set: [], add: [], remove: [] },
      responseHeaders: { set: [], add: [], remove: [] },
      discover: null,
    }],
  });
});

t.test('the design document example parses as written', async (t) => {
  const c = load(t, `
listeners:
  - name: clients
    bind: 0.0.0.0:8443
    engine: uws
    tls: { cert: certs/gateway.crt, key: certs/gateway.key }
    farm: us-api
    timeouts: { client: 30s, http-request: 10s, http-keep-alive: 10s }
admin: { bind: 127.0.0.1:9900 }
farms:
  - name: us-api
    balance: leastconn
    http-reuse: always
    retries: 3
    redispatch: true
    retry-on: [conn-failure, empty-response, 503]
    replay-buffer: 64KiB
    timeouts: { connect: 5s, server: 60s, queue: 10s }
    tls: { ca: certs/farm-ca.pem, sni: api.example.net }
    pool: { max-conn: 12, max-idle: 12, min-idle: 2, idle-timeout: 290s, proven-window: 2s, max-reuse: 0, max-age: 0 }
    health: { path: /health, inter: 2s, fastinter: 500ms, downinter: 5s, rise: 2, fall: 3, disable-on-404: true }
    servers:
      - { name: api1, address: 10.0.0.1:443, weight: 100 }
      - { name: api2, address: 10.0.0.2:443, weight: 100, pool: { max-conn: 24 } }
      - { name: dr1, address: dr.example.net:443, backup: true }
`);
  const farm = c.farms[0]!;
  t.same(c.admin, { bind: { host: '127.0.0.1', port: 9900 }, tokenFile: null, hosts: [] });
  t.same(farm.retryOn, ['conn-failure', 'empty-response', '503']);
  t.same(farm.tls.sni, { kind: 'fixed', name: 'api.example.net' });
  t.match(farm.tls.ca, /certs\/farm-ca\.pem$/);
  t.equal(farm.health.enabled, true);
  t.equal(farm.health.disableOn404, true);
  t.same(farm.servers.map((s) => [s.name, s.weight, s.backup, s.pool.maxConn, s.pool.maxIdle, s.pool.minIdle]), [
    ['api1', 100, false, 12, 12, 2],
    ['api2', 100, false, 24, 12, 2], // max-idle: 12 was set explicitly on the farm
    ['dr1', 1, true, 12, 12, 2],
  ]);
  t.same(farm.servers[2]!.address, { host: 'dr.example.net', port: 443 });
});

t.test('farm pool is merged into each server override; max-idle defaults to the effective max-conn', async (t) => {
  const c = load(t, `
listeners: [{ name: l, bind: "[::1]:0", tls: { cert: certs/gateway.crt, key: certs/gateway.key }, farm: f }]
farms:
  - name: f
    pool: { max-conn: 4, min-idle: 1, idle-timeout: 1m, max-age: 1h }
    servers:
      - { name: a, address: "[2001:db8::1]:443" }
      - { name: b, address: b.example.net:8443, pool: { max-conn: 30, proven-window: 500ms } }
      - { name: c, address: c.example.net:443, pool: { max-idle: 2 } }
`);
  const [a, b, cc] = c.farms[0]!.servers;
  t.same(c.listeners[0]!.bind, { host: '::1', port: 0 });
  t.same(a!.address, { host: '2001:db8::1', port: 443 });
  t.strictSame(a!.pool, { maxConn: 4, maxIdle: 4, minIdle: 1, idleTimeout: 60_000, provenWindow: 2_000, maxReuse: 0, maxAge: 3_600_000, purgeInterval: 5_000, burst: 'open', maxQueue: 0 });
  t.strictSame(b!.pool, { maxConn: 30, maxIdle: 30, minIdle: 1, idleTimeout: 60_000, provenWindow: 500, maxReuse: 0, maxAge: 3_600_000, purgeInterval: 5_000, burst: 'open', maxQueue: 0 });
  t.same(cc!.pool, { ...a!.pool, maxIdle: 2 });
  t.same(c.farms[0]!.pool, a!.pool);
});

t.test('sni, health, admin and log forms', async (t) => {
  const farm = (tls: string, extra = '') => load(t, `
listeners: [{ name: l, bind: "0.0.0.0:1", tls: { cert: certs/gateway.crt, key: certs/gateway.key }, farm: f }]
admin:
log: { level: debug, access: false }
farms: [{ name: f, tls: ${tls}, servers: [{ name: s, address: "h:1" }] ${extra} }]
`);
  t.same(farm('{ sni: host }').farms[0]!.tls.sni, { kind: 'host' });
  t.same(farm('{ sni: none }').farms[0]!.tls.sni, { kind: 'none' });
  t.same(farm('{ sni: api.example.net }').farms[0]!.tls.sni, { kind: 'fixed', name: 'api.example.net' });
  t.same(farm('{}').farms[0]!.tls.sni, { kind: 'address' });

  const c = farm('{ verify: false, cert: certs/client.crt, key: certs/client.key }', ', health: {}');
  t.equal(c.farms[0]!.tls.verify, false);
  t.match(c.farms[0]!.tls.cert, /certs\/client\.crt$/);
  t.match(c.farms[0]!.health, { enabled: true, path: '/health', inter: 2_000, fall: 3 });
  t.same(c.admin, { bind: { host: '127.0.0.1', port: 9900 }, tokenFile: null, hosts: [] }, 'an empty admin section enables admin with defaults');
  t.same(c.log, { level: 'debug', access: false, destination: 'stdout' });
});

t.test('relative file paths resolve against the config directory', async (t) => {
  const dir = t.testdir({
    'gateway.yaml': MINIMAL.replace('farms:', 'admin: { bind: "127.0.0.1:0", token-file: admin.token }\nfarms:'),
    certs: { 'gateway.crt': 'x', 'gateway.key': 'x' },
    'admin.token': 'x',
  });
  const r = loadConfigFile(join(dir, 'gateway.yaml'), {});
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  if (!r.ok) return;
  t.equal(r.config.listeners[0]!.tls.cert, join(dir, 'certs/gateway.crt'));
  t.equal(r.config.admin!.tokenFile, join(dir, 'admin.token'));

  const absolute = loadConfigText(MINIMAL.replace('certs/gateway.crt', join(dir, 'certs/gateway.crt')), {}, '/nonexistent');
  t.equal(absolute.ok, false, 'only the relative key is looked up under baseDir');
  t.same(absolute.ok ? [] : absolute.issues.map((i) => i.path), ['listeners[0].tls.key']);
});

t.test('the result is deeply frozen', async (t) => {
  const c = load(t, MINIMAL);
  const unfrozen: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v !== 'object' || v === null) return;
    if (!Object.isFrozen(v)) unfrozen.push(path);
    for (const [k, child] of Object.entries(v)) walk(child, `${path}.${k}`);
  };
  walk(c, 'config');
  t.same(unfrozen, []);
  t.throws(() => { (c.farms[0]!.pool as { maxConn: number }).maxConn = 99; }, TypeError);
  t.throws(() => { (c.farms[0]!.servers as unknown[]).push({}); }, TypeError);
  t.throws(() => { (c.listeners[0]!.bind as { port: number }).port = 1; }, TypeError);
});

t.test('two loads share no objects', async (t) => {
  const a = load(t, MINIMAL);
  const b = load(t, MINIMAL);
  t.not(a.farms[0]!.retryOn, b.farms[0]!.retryOn);
  t.not(a.farms[0]!.tls.sni, b.farms[0]!.tls.sni);
});

t.test('environment variables fill values', async (t) => {
  const text = `
listeners:
  - { name: clients, bind: "0.0.0.0:\${PORT:-8443}", tls: { cert: "\${CERT_DIR:-certs}/gateway.crt", key: certs/gateway.key }, farm: api }
farms:
  - name: api
    tls: { sni: \${SNI:-none} }
    pool: { max-conn: \${MAX_CONN:-12} }
    servers:
      - { name: s1, address: \${SERVER}:443 }
`;
  const c = load(t, text, { SERVER: 'api.eu.example.net', MAX_CONN: '40' });
  t.same(c.listeners[0]!.bind, { host: '0.0.0.0', port: 8443 });
  t.same(c.farms[0]!.tls.sni, { kind: 'none' });
  t.equal(c.farms[0]!.pool.maxConn, 40, 'an unquoted expansion is typed like YAML would');
  t.same(c.farms[0]!.servers[0]!.address, { host: 'api.eu.example.net', port: 443 });

  const c2 = load(t, text, { SERVER: '10.1.1.1', PORT: '9443', SNI: 'api.example.net' });
  t.same(c2.listeners[0]!.bind, { host: '0.0.0.0', port: 9443 });
  t.same(c2.farms[0]!.tls.sni, { kind: 'fixed', name: 'api.example.net' });
  t.equal(c2.farms[0]!.pool.maxConn, 12);
});

t.test('a missing config file is one issue', async (t) => {
  const r = loadConfigFile('/nonexistent/longhaul.yaml', {});
  t.same(r, { ok: false, issues: [{ path: '/nonexistent/longhaul.yaml', message: 'config file not found' }] });
});

t.test('formatIssues writes one indented line per issue', async (t) => {
  t.equal(
    formatIssues([{ path: 'farms[0].pool.max-conn', message: 'must be an integer >= 1' }, { path: 'log.level', message: 'x' }]),
    '  farms[0].pool.max-conn: must be an integer >= 1\n  log.level: x',
  );
});
