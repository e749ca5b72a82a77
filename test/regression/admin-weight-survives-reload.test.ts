// Issue 12 item 8: a reload reset weights set through the admin API even when the config's
// weight had not changed. HAProxy's rule: the runtime value stays unless the reload changes that
// server's configured value. Admin states (drain, maint) already survived; checked here too.
import t from 'tap';
import { Farm } from '../../src/balancer/farm.js';
import { silentLogger } from '../../src/core/logger.js';
import { farmConfig, serverConfig } from '../helpers/configs.js';
import { deadPort } from '../helpers/misbehaving-server.js';

t.test('admin weight and state survive a reload that leaves the configured weight alone', async (t) => {
  const port = await deadPort();
  const config = (w1: number, w2: number) => farmConfig('f', '', [serverConfig('s1', port, { weight: w1 }), serverConfig('s2', port + 1, { weight: w2 })]);
  const farm = new Farm(config(1, 1), silentLogger);
  t.teardown(() => farm.close());
  const [s1, s2] = farm.servers;
  s1!.setWeight(50, 'admin');
  s2!.setWeight(7, 'admin');
  s2!.setAdminState('drain', 'admin');

  farm.reconfigure(config(1, 1));
  t.equal(farm.servers[0]!.weight, 50, 'same configured weight: the admin weight stays');
  t.equal(farm.servers[1]!.weight, 7);
  t.equal(farm.servers[1]!.state, 'DRAIN', 'admin drain stays');

  farm.reconfigure(config(1, 3));
  t.equal(farm.servers[0]!.weight, 50, 's1 config unchanged: still the admin weight');
  t.equal(farm.servers[1]!.weight, 3, 's2 config changed 1 → 3: the config wins');
});
