import t from 'tap';
import { asksConnectionAuth, reuseConstraints } from '../../../src/proxy/reuse-policy.js';

t.test('reuse constraints per mode, first request vs later', async (t) => {
  t.same(reuseConstraints('always', true), { fresh: false, minUses: 0 });
  t.same(reuseConstraints('aggressive', true), { fresh: false, minUses: 2 });
  t.same(reuseConstraints('aggressive', false), { fresh: false, minUses: 0 });
  t.same(reuseConstraints('safe', true), { fresh: true, minUses: 0 });
  t.same(reuseConstraints('safe', false), { fresh: false, minUses: 0 });
  t.same(reuseConstraints('never', false), { fresh: true, minUses: 0 });
});

t.test('connection-based auth challenges', async (t) => {
  const h = (...kv: string[]) => kv.map((x) => Buffer.from(x));
  t.ok(asksConnectionAuth(401, h('WWW-Authenticate', 'NTLM')));
  t.ok(asksConnectionAuth(401, h('www-authenticate', 'Negotiate')));
  t.ok(asksConnectionAuth(401, h('WWW-Authenticate', 'NTLM TlRMTVNTUAACAAAA')), 'type-2 message');
  t.ok(asksConnectionAuth(401, h('WWW-Authenticate', 'Basic realm="x"', 'WWW-Authenticate', 'Negotiate')), 'second header');
  t.ok(asksConnectionAuth(401, h('WWW-Authenticate', 'Basic realm="x", NTLM')), 'comma-separated challenges');
  t.ok(asksConnectionAuth(407, h('Proxy-Authenticate', 'NTLM')));
  t.notOk(asksConnectionAuth(401, h('WWW-Authenticate', 'Basic realm="NTLM"')), 'Basic with a realm that says NTLM');
  t.notOk(asksConnectionAuth(401, h('WWW-Authenticate', 'Bearer')));
  t.notOk(asksConnectionAuth(407, h('WWW-Authenticate', 'NTLM')), '407 looks at Proxy-Authenticate');
  t.notOk(asksConnectionAuth(200, h('WWW-Authenticate', 'NTLM')), 'only on 401/407');
  t.notOk(asksConnectionAuth(401, h('WWW-Authenticate', 'NTLMv2x')), 'a token that only starts with NTLM');
});
