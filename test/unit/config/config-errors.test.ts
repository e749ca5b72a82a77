import t, { type Test } from 'tap';
import type { ConfigIssue } from '../../../src/config/config-types.js';
import { formatIssues, loadConfigText } from '../../../src/config/load-config.js';

function issuesOf(t: Test, text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  const dir = t.testdir({ 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x' });
  const r = loadConfigText(text, env, dir);
  if (r.ok) { t.fail('expected the config to be refused'); return []; }
  t.comment(`\n${formatIssues(r.issues)}`);
  return r.issues;
}

/** Asserts an issue exists at exactly `path` whose message matches `message`. */
function hasIssue(t: Test, issues: ConfigIssue[], path: string, message: RegExp): void {
  const found = issues.find((i) => i.path === path);
  if (!found) { t.fail(`no issue at ${path}`, { found: issues }); return; }
  t.match(found.message, message, path);
}

/** A valid config; each case changes one line of it. */
const BASE = [
  'listeners:',
  '  - name: clients',
  '    bind: 127.0.0.1:8443',
  '    tls: { cert: gw.crt, key: gw.key }',
  '    farm: api',
  '    timeouts: { client: 30s }',
  'farms:',
  '  - name: api',
  '    timeouts: { connect: 5s }',
  '    tls: { ca: ca.pem }',
  '    pool: { max-conn: 12, min-idle: 0 }',
  '    servers:',
  '      - { name: s1, address: 10.0.0.1:443 }',
  '      - { name: s2, address: 10.0.0.2:443 }',
].join('\n');

const edit = (from: string, to: string): string => {
  if (!BASE.includes(from)) throw new Error(`BASE has no ${from}`);
  return BASE.replace(from, to);
};

t.test('the base config is valid', async (t) => {
  const dir = t.testdir({ 'gw.crt': 'x', 'gw.key': 'x', 'ca.pem': 'x' });
  const r = loadConfigText(BASE, {}, dir);
  t.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
});

const cases: Array<{ name: string; text: string; env?: NodeJS.ProcessEnv; path: string; message: RegExp }> = [
  {
    name: 'bad duration',
    text: edit('client: 30s', 'client: 30sec'),
    path: 'listeners[0].timeouts.client',
    message: /unknown duration unit "sec"/,
  },
  {
    name: 'negative max-conn',
    text: edit('max-conn: 12', 'max-conn: -1'),
    path: 'farms[0].pool.max-conn',
    message: /^must be an integer >= 1$/,
  },
  {
    name: 'unknown key (typo)',
    text: edit('max-conn: 12', 'max-con: 12'),
    path: 'farms[0].pool.max-con',
    message: /unknown key \(did you mean max-conn\?\)/,
  },
  {
    name: 'camelCase key',
    text: edit('max-conn: 12', 'maxConn: 12'),
    path: 'farms[0].pool.maxConn',
    message: /did you mean max-conn\?/,
  },
  {
    name: 'listener names an unknown farm',
    text: edit('farm: api', 'farm: apii'),
    path: 'listeners[0].farm',
    message: /no farm named "apii" \(farms: api\)/,
  },
  {
    name: 'bad address: no port',
    text: edit('address: 10.0.0.1:443', 'address: 10.0.0.1'),
    path: 'farms[0].servers[0].address',
    message: /has no port/,
  },
  {
    name: 'bad address: IPv6 without brackets',
    text: edit('bind: 127.0.0.1:8443', 'bind: "::1:8443"'),
    path: 'listeners[0].bind',
    message: /IPv6 addresses must be in brackets/,
  },
  {
    name: 'bad address: port out of range',
    text: edit('address: 10.0.0.2:443', 'address: 10.0.0.2:70000'),
    path: 'farms[0].servers[1].address',
    message: /not a valid port/,
  },
  {
    name: 'bad address: port 0 for a server',
    text: edit('address: 10.0.0.2:443', 'address: 10.0.0.2:0'),
    path: 'farms[0].servers[1].address',
    message: /not a valid port \(1-65535\)/,
  },
  {
    name: 'min-idle > max-conn',
    text: edit('max-conn: 12, min-idle: 0', 'max-conn: 2, min-idle: 3'),
    path: 'farms[0].pool.min-idle',
    message: /must be <= max-conn \(2\)/,
  },
  {
    name: 'max-idle > max-conn',
    text: edit('max-conn: 12, min-idle: 0', 'max-conn: 2, max-idle: 3'),
    path: 'farms[0].pool.max-idle',
    message: /must be <= max-conn \(2\)/,
  },
  {
    name: 'server override lowers max-conn below the farm min-idle',
    text: edit('min-idle: 0', 'min-idle: 4').replace('{ name: s2, address: 10.0.0.2:443 }', '{ name: s2, address: 10.0.0.2:443, pool: { max-conn: 2 } }'),
    path: 'farms[0].servers[1].pool.max-conn',
    message: /must be >= min-idle \(4, from the farm pool\)/,
  },
  {
    name: 'unset environment variable',
    text: edit('address: 10.0.0.1:443', 'address: ${API_HOST}:443'),
    path: 'farms[0].servers[0].address',
    message: /environment variable API_HOST is not set/,
  },
  {
    name: 'YAML syntax error',
    text: edit('    farm: api', '    farm: [api'),
    path: 'line 6, column 5',
    message: /YAML syntax error: Flow sequence .* end with a \]/,
  },
  {
    name: 'duplicate key',
    text: edit('    farm: api', '    farm: api\n    farm: api'),
    path: 'line 6, column 5',
    message: /unique/,
  },
  {
    name: 'duplicate server name',
    text: edit('name: s2', 'name: s1'),
    path: 'farms[0].servers[1].name',
    message: /duplicate server name "s1" \(already used by farms\[0\]\.servers\[0\]\)/,
  },
  {
    name: 'duplicate farm name',
    text: `${BASE}\n  - name: api\n    servers: [{ name: x, address: "h:1" }]`,
    path: 'farms[1].name',
    message: /duplicate farm name "api"/,
  },
  {
    name: 'size with a 1000-based unit',
    text: edit('    timeouts: { connect: 5s }', '    timeouts: { connect: 5s }\n    replay-buffer: 64KB'),
    path: 'farms[0].replay-buffer',
    message: /unknown size unit "KB".*write KiB/,
  },
  {
    name: 'request-buffer that is not a size (issue 11 item 9)',
    text: edit('    timeouts: { connect: 5s }', '    timeouts: { connect: 5s }\n    request-buffer: lots'),
    path: 'farms[0].request-buffer',
    message: /size/,
  },
  {
    name: 'min-upload-rate that is not a size (issue 11 item 9)',
    text: edit('    farm: api', '    farm: api\n    min-upload-rate: fast'),
    path: 'listeners[0].min-upload-rate',
    message: /size/,
  },
  {
    name: 'missing tls file',
    text: edit('ca: ca.pem', 'ca: missing-ca.pem'),
    path: 'farms[0].tls.ca',
    message: /file not found: .*missing-ca\.pem/,
  },
  {
    name: 'SNI given as an IP',
    text: edit('ca: ca.pem', 'ca: ca.pem, sni: 10.0.0.1'),
    path: 'farms[0].tls.sni',
    message: /SNI cannot be an IP address/,
  },
  {
    name: 'client cert without key',
    text: edit('ca: ca.pem', 'ca: ca.pem, cert: gw.crt'),
    path: 'farms[0].tls.key',
    message: /is required when tls.cert is set/,
  },
  {
    name: 'enum value',
    text: edit('    timeouts: { connect: 5s }', '    timeouts: { connect: 5s }\n    balance: random'),
    path: 'farms[0].balance',
    message: /must be one of: roundrobin, leastconn, first, got the string "random"/,
  },
  {
    name: 'quoted number',
    text: edit('max-conn: 12', 'max-conn: "12"'),
    path: 'farms[0].pool.max-conn',
    message: /must be an integer >= 1, got the string "12"/,
  },
  {
    name: 'missing required key',
    text: edit('    bind: 127.0.0.1:8443\n', ''),
    path: 'listeners[0].bind',
    message: /^is required$/,
  },
  {
    name: 'no servers',
    text: BASE.split('\n').slice(0, 12).join('\n') + ' []',
    path: 'farms[0].servers',
    message: /at least one server/,
  },
  {
    name: 'two listeners on one port',
    text: edit('farms:', '  - { name: other, bind: 127.0.0.1:8443, tls: { cert: gw.crt, key: gw.key }, farm: api }\nfarms:'),
    path: 'listeners[1].bind',
    message: /same address and port as listeners\[0\]\.bind/,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => hasIssue(t, issuesOf(t, c.text, c.env), c.path, c.message));
}

t.test('every problem is reported at once, in file order', async (t) => {
  const text = [
    'listeners:',
    '  - name: clients',
    '    bind: 127.0.0.1',
    '    tls: { cert: gw.crt, key: nokey.key }',
    '    farm: nowhere',
    '    enigne: node',
    '    timeouts: { client: 10 minutes }',
    'log: { level: loud }',
    'farms:',
    '  - name: api',
    '    retries: -2',
    '    pool: { max-conn: 0, min-idle: 1 }',
    '    servers:',
    '      - { name: s1, address: "${S1}:443" }',
    '      - { name: s1, address: 10.0.0.2:443, pool: { max-conn: 2, min-idle: 5 } }',
  ].join('\n');
  const issues = issuesOf(t, text);
  t.same(issues.map((i) => i.path), [
    'listeners[0].bind',
    'listeners[0].tls.key',
    'listeners[0].farm',
    'listeners[0].enigne',
    'listeners[0].timeouts.client',
    'log.level',
    'farms[0].retries',
    'farms[0].pool.max-conn',
    'farms[0].servers[0].address',
    'farms[0].servers[1].name',
    'farms[0].servers[1].pool.min-idle',
  ]);
});

t.test('a broken anchored value is reported at every place that uses it', async (t) => {
  const text = edit('    pool: { max-conn: 12, min-idle: 0 }', '    pool: &p { max-conn: 0 }')
    .replace('{ name: s2, address: 10.0.0.2:443 }', '{ name: s2, address: 10.0.0.2:443, pool: *p }');
  const issues = issuesOf(t, text);
  hasIssue(t, issues, 'farms[0].pool.max-conn', /integer >= 1/);
  hasIssue(t, issues, 'farms[0].servers[1].pool.max-conn', /integer >= 1/);
});

t.test('not a mapping', async (t) => {
  t.same(issuesOf(t, '- a\n- b\n').map((i) => i.path), ['(top level)']);
  t.same(issuesOf(t, '').map((i) => i.message), ['the configuration is empty']);
  t.same(issuesOf(t, '# only a comment\n').map((i) => i.message), ['the configuration is empty']);
});

t.test('required top-level sections', async (t) => {
  const issues = issuesOf(t, 'log: { level: info }\n');
  hasIssue(t, issues, 'listeners', /is required/);
  hasIssue(t, issues, 'farms', /is required/);
});
