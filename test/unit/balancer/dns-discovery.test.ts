import t from 'tap';
import { DnsDiscovery, type DiscoveredServer } from '../../../src/balancer/dns-discovery.js';
import type { DiscoverConfig } from '../../../src/config/config-types.js';
import { capturingLogger } from '../../helpers/capturing-logger.js';
import { poolConfig } from '../../helpers/configs.js';
import { dnsmasqMissing, startDnsmasq } from '../../helpers/dnsmasq.js';
import { until } from '../../helpers/until.js';

// dns-discovery.ts against a real DNS server (dnsmasq on loopback): answers are sorted, capped
// at max-servers keeping addresses in use, and failures keep the last good answer, logged once
// per streak.

const missing = dnsmasqMissing();
const cfg = (resolver: string, over: Partial<DiscoverConfig> = {}): DiscoverConfig => ({
  name: 'api.test', port: 443, type: 'A', every: 50, maxServers: 8, resolvers: [resolver], timeout: 200, weight: 1, pool: poolConfig(), ...over,
});

t.test('answers, max-servers keeps addresses in use, failures keep the last answer and log once per streak', { skip: missing }, async (t) => {
  const dns = await startDnsmasq(['127.0.0.9 api.test', '127.0.0.3 api.test', '127.0.0.5 api.test']);
  const { log, lines } = capturingLogger('info');
  const answers: string[][] = [];
  const d = new DnsDiscovery(cfg(dns.address, { maxServers: 2 }), log, (s: DiscoveredServer[]) => answers.push(s.map((x) => x.host)));
  t.teardown(async () => {
    d.stop();
    await dns.stop();
  });
  d.start();
  await d.firstAttempt();
  t.same(answers, [['127.0.0.3', '127.0.0.5']], 'sorted, capped at 2');
  // .2 is new and sorts first, but .3 and .5 are in use: they stay.
  await dns.setRecords(['127.0.0.2 api.test', '127.0.0.3 api.test', '127.0.0.5 api.test']);
  const resolved = d.snapshot().resolutions;
  await until(() => d.snapshot().resolutions >= resolved + 3, 'three more answers');
  t.same(answers.length, 1, 'no change reported: the in-use addresses were kept');
  t.ok(lines.some((l) => l.msg === 'DNS discovery: more addresses than max-servers; the rest are ignored'));

  await dns.stop();
  await until(() => d.snapshot().failures >= 4, 'four failures');
  t.same(d.snapshot().addresses, ['127.0.0.3:443', '127.0.0.5:443'], 'last good answer kept');
  t.equal(d.snapshot().lastError?.code, 'LH_DNS_FAILED');
  const warns = lines.filter((l) => l.msg === 'DNS discovery failed: keeping the last good answer');
  t.equal(warns.length, 1, `one warning for ${d.snapshot().failures} failures`);
  t.same(warns[0]!.kept, ['127.0.0.3:443', '127.0.0.5:443']);

  await dns.setRecords(['127.0.0.7 api.test']);
  await dns.start();
  await until(() => answers.length === 2, 'answer after the resolver came back');
  t.same(answers[1], ['127.0.0.7']);
  t.ok(lines.some((l) => l.msg === 'DNS discovery answers again'));
  t.equal(answers.flat().length, 3, 'onAnswer was never called with an empty list');
});

t.test('a resolver that never answered: no servers, LH_DNS_FAILED, firstAttempt settles', async (t) => {
  const { log } = capturingLogger('silent');
  let called = 0;
  // Port 9 on loopback: nothing listens (discard); the query fails or times out.
  const d = new DnsDiscovery(cfg('127.0.0.1:9', { timeout: 100 }), log, () => called++);
  t.teardown(() => d.stop());
  d.start();
  await d.firstAttempt();
  t.equal(called, 0);
  t.equal(d.snapshot().lastError?.code, 'LH_DNS_FAILED');
  t.same(d.snapshot().addresses, []);
  t.equal(d.snapshot().lastSuccess, null);
});
