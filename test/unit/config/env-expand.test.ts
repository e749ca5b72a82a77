import t, { type Test } from 'tap';
import { parseDocument } from 'yaml';
import { expandEnv, expandEnvInYaml, protectReferences } from '../../../src/config/env-expand.js';

function expandYaml(t: Test, text: string, environment: NodeJS.ProcessEnv) {
  const source = protectReferences(text);
  const doc = parseDocument(source.text);
  t.same(doc.errors, [], 'the protected text parses');
  return { issues: expandEnvInYaml(doc, environment, source.restore), value: doc.toJS() as unknown };
}

const env = { REGION: 'eu', PORT: '8443', EMPTY: '', MAX: '24', FLAG: 'false' };

t.test('expandEnv', async (t) => {
  const good: Array<[string, string]> = [
    ['plain', 'plain'],
    ['${REGION}', 'eu'],
    ['api-${REGION}.example.net:${PORT}', 'api-eu.example.net:8443'],
    ['${UNSET:-fallback}', 'fallback'],
    ['${REGION:-fallback}', 'eu'],
    ['${EMPTY:-fallback}', 'fallback'], // `:-` also replaces an empty value
    ['${EMPTY}', ''],
    ['${UNSET:-}', ''],
    ['${UNSET:-a:b/c d}', 'a:b/c d'],
    ['$${REGION}', '${REGION}'],
    ['cost: $5', 'cost: $5'],
    ['$', '$'],
  ];
  for (const [input, output] of good) t.same(expandEnv(input, env), { ok: true, value: output }, input);

  const bad: Array<[string, RegExp[]]> = [
    ['${UNSET}', [/environment variable UNSET is not set/]],
    ['${A}-${B}', [/A is not set/, /B is not set/]],
    ['${REGION', [/unterminated/]],
    ['${1X}', [/invalid variable reference/]],
    ['${}', [/invalid variable reference/]],
    ['${A:-${B}}', [/cannot contain another/]],
  ];
  for (const [input, messages] of bad) {
    const r = expandEnv(input, env);
    t.equal(r.ok, false, `${input} fails`);
    if (!r.ok) {
      t.equal(r.errors.length, messages.length, `${input}: one error per problem`);
      messages.forEach((m, i) => t.match(r.errors[i], m, input));
    }
  }
});

t.test('YAML: values only, plain scalars re-typed, quoted ones kept as strings', async (t) => {
  const { issues, value } = expandYaml(
    t,
    [
      'bind: "0.0.0.0:${PORT}"',
      'max-conn: ${MAX}',
      'quoted: "${MAX}"',
      'single: \'${MAX}\'',
      'flag: ${FLAG}',
      'missing-default: ${UNSET:-12}',
      'name: ${REGION}-api',
      '${REGION}: key is not expanded',
      'block: |',
      '  region ${REGION}',
      'escaped: $${REGION}',
    ].join('\n'),
    env,
  );
  t.same(issues, []);
  t.same(value, {
    bind: '0.0.0.0:8443',
    'max-conn': 24,
    quoted: '24',
    single: '24',
    flag: false,
    'missing-default': 12,
    name: 'eu-api',
    '${REGION}': 'key is not expanded',
    block: 'region eu\n',
    escaped: '${REGION}',
  });
});

t.test('YAML: references inside flow collections keep the structure', async (t) => {
  const { issues, value } = expandYaml(
    t,
    [
      'list: [a, ${REGION}, ${MAX}, "${REGION}"]',
      'server: { name: s1, address: ${HOST:-10.0.0.1}:${PORT}, weight: ${W:-5} }',
      'tricky: ${VALUE}',
      'default-with-comma: [${UNSET:-a, b}]',
    ].join('\n'),
    { ...env, VALUE: 'a: b # not a comment' },
  );
  t.same(issues, []);
  t.same(value, {
    list: ['a', 'eu', 24, 'eu'],
    server: { name: 's1', address: '10.0.0.1:8443', weight: 5 },
    tricky: 'a: b # not a comment', // a substituted value cannot change the structure
    'default-with-comma': ['a, b'],
  });
});

t.test('YAML: a substituted value is data, never YAML syntax', async (t) => {
  const { issues, value } = expandYaml(
    t,
    'a: ${A}\nb: ${B}\nc: ${C}\nd: ${D}\ne: ${E}\nf: ${F}\n',
    { A: 'line1\nline2', B: '!!str 5', C: '&anchor 5', D: '[1, 2]', E: '*alias', F: '~' },
  );
  t.same(issues, []);
  t.strictSame(value, { a: 'line1\nline2', b: '!!str 5', c: '&anchor 5', d: '[1, 2]', e: '*alias', f: null });
});

t.test('YAML: each unset variable is reported with its key path', async (t) => {
  const { issues } = expandYaml(t, 'farms:\n  - name: a\n    servers:\n      - { address: "${HOST}:${PORT_X}" }\n', env);
  t.same(issues.map((i) => i.path), [['farms', 0, 'servers', 0, 'address'], ['farms', 0, 'servers', 0, 'address']]);
  t.match(issues[0]!.message, /HOST is not set/);
  t.match(issues[1]!.message, /PORT_X is not set/);
});

t.test('YAML: an anchored value is expanded once and shared by its aliases', async (t) => {
  const { issues, value } = expandYaml(t, 'a: &x ${REGION}\nb: *x\n', env);
  t.same(issues, []);
  t.same(value, { a: 'eu', b: 'eu' });
});

t.test('protectReferences maps offsets back to the source', async (t) => {
  const source = 'a: ${LONG_VARIABLE_NAME}\nb: ${X}\nc: [\n';
  const p = protectReferences(source);
  t.notMatch(p.text, /\$\{/);
  t.equal(p.restore(p.text), source);
  for (const needle of ['b:', 'c:', '[']) t.equal(p.sourceOffset(p.text.indexOf(needle)), source.indexOf(needle), needle);
});
