// Issue 12 item 8: with `state-file`, admin weights and states survive a restart (HAProxy's
// server-state-file): written atomically at change and at stop, read at start; a saved weight
// applies only while the configured weight is the one it was saved with; entries for servers no
// longer in the config are ignored with a log line.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Gateway } from '../../src/main/gateway.js';
import type { GatewayConfig } from '../../src/config/config-types.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

t.test('weights and admin states across a restart', async (t) => {
  const f = await pkiFiles();
  const port = await deadPort();
  const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-state-')), 'server-state.json');
  const config = (servers: Array<[string, number]>): GatewayConfig => ({
    ...gatewayConfig([listenerConfig('f', f.gatewayCert, f.gatewayKey)], [farmConfig('f', f.caFile, servers.map(([n, w], i) => serverConfig(n, port + i, { weight: w })), { timeouts: { connect: 200, server: 1000, queue: 1000 } })]),
    stateFile,
  });

  const first = capturingLogger('info');
  const a = await Gateway.start(config([['s1', 1], ['s2', 1], ['s3', 1]]), first.log);
  const [s1, s2, s3] = a.farms.get('f')!.servers;
  s1!.setWeight(40, 'admin');
  s2!.setAdminState('maint', 'admin');
  s3!.setWeight(9, 'admin');
  await a.stop(100);
  t.ok(existsSync(stateFile), 'written at stop');
  const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { servers: Array<{ server: string; weight: number; admin: string }> };
  t.same(saved.servers.map((s) => [s.server, s.weight, s.admin]), [['s1', 40, 'ready'], ['s2', 1, 'maint'], ['s3', 9, 'ready']]);

  // Restart: s3's configured weight changed (config wins), s2 kept, s4 new, s1 kept.
  const second = capturingLogger('info');
  const b = await Gateway.start(config([['s1', 1], ['s2', 1], ['s4', 1]].map(([n, w]) => [n as string, w as number])), second.log);
  t.teardown(() => b.stop(100));
  const by = (n: string) => b.farms.get('f')!.servers.find((s) => s.name === n)!;
  t.equal(by('s1').weight, 40, 'admin weight restored');
  t.equal(by('s2').snapshot().admin, 'maint', 'admin maint restored');
  t.equal(by('s4').weight, 1, 'new server: configured weight');
  t.ok(second.lines.some((l) => l.msg === 'state-file: server no longer in the configuration: entry ignored' && l.server === 's3'), 'ignored entry logged');

  const c = await Gateway.start(config([['s1', 2], ['s2', 1]]), capturingLogger('info').log).catch((e: Error) => e);
  if (c instanceof Error) return t.fail(c.message);
  t.equal(c.farms.get('f')!.servers[0]!.weight, 2, 'configured weight changed since the save: the config wins');
  await c.stop(100);
});
