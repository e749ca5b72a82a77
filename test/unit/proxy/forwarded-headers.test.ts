import t from 'tap';
import { forwardingHeaders, plainAddress, trustsPeer } from '../../../src/proxy/forwarded-headers.js';
import type { HeaderList } from '../../../src/core/types.js';

const forged: HeaderList = [
  ['Host', 'app.example.net'],
  ['X-Forwarded-For', '6.6.6.6'],
  ['x-forwarded-for', '7.7.7.7'],
  ['Forwarded', 'for=6.6.6.6;proto=http'],
  ['X-Real-IP', '6.6.6.6'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Proto', 'http'],
];
const pairs = (flat: string[]): Array<[string, string]> => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};

t.test('replace (default): nothing the client sent survives; only this hop', async (t) => {
  t.same(pairs(forwardingHeaders(forged, { peer: '::ffff:192.0.2.7' })), [['x-forwarded-for', '192.0.2.7'], ['x-forwarded-proto', 'https']]);
  t.same(pairs(forwardingHeaders(forged, { policy: { mode: 'replace' }, peer: '192.0.2.7', forwardedHost: 'app.example.net' })), [
    ['x-forwarded-for', '192.0.2.7'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'app.example.net'],
  ]);
});

t.test('append: the chain is kept and extended', async (t) => {
  t.same(pairs(forwardingHeaders(forged, { policy: { mode: 'append' }, peer: '2001:db8::7' })), [
    ['x-forwarded-for', '6.6.6.6, 7.7.7.7, 2001:db8::7'],
    ['forwarded', 'for=6.6.6.6;proto=http, for="[2001:db8::7]";proto=https'],
    ['x-real-ip', '6.6.6.6'],
    ['x-forwarded-proto', 'http'],
    ['x-forwarded-host', 'evil.example'],
  ]);
  t.same(pairs(forwardingHeaders([['Host', 'h']], { policy: { mode: 'append' }, peer: '10.0.0.1', forwardedHost: 'h' })), [
    ['x-forwarded-for', '10.0.0.1'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'h'],
  ]);
});

t.test('trust <CIDR list>: append for listed peers, replace for every other one', async (t) => {
  const policy = { mode: 'trust' as const, cidrs: [{ address: '10.0.0.0', prefix: 8, family: 'ipv4' as const }, { address: '2001:db8::', prefix: 32, family: 'ipv6' as const }] };
  t.ok(trustsPeer(policy, '10.1.2.3'));
  t.ok(trustsPeer(policy, '::ffff:10.1.2.3'), 'v4-mapped address on a dual-stack socket');
  t.ok(trustsPeer(policy, '2001:db8:1::5'));
  t.notOk(trustsPeer(policy, '11.0.0.1'));
  t.notOk(trustsPeer(policy, '2001:db9::1'));
  t.notOk(trustsPeer(policy, ''), 'unknown peer is not trusted');
  t.same(forwardingHeaders(forged, { policy, peer: '11.0.0.1' }), ['x-forwarded-for', '11.0.0.1', 'x-forwarded-proto', 'https']);
  t.equal(forwardingHeaders(forged, { policy, peer: '10.9.9.9' })[1], '6.6.6.6, 7.7.7.7, 10.9.9.9');
  t.equal(plainAddress('::1'), '::1');
});
