import t from 'tap';
import { createBalancePolicy } from '../../../src/balancer/balance-policy.js';
import type { BackendServer } from '../../../src/balancer/backend-server.js';

const srv = (name: string, weight: number, active = 0) => ({ name, weight, active }) as unknown as BackendServer;

t.test('roundrobin is smooth and weighted', async (t) => {
  const a = srv('a', 5);
  const b = srv('b', 1);
  const c = srv('c', 1);
  const p = createBalancePolicy('roundrobin');
  const seq = Array.from({ length: 7 }, () => p.pick([a, b, c]).name).join('');
  t.equal(seq, 'aabacaa');
});

t.test('leastconn picks the fewest in-flight relative to weight', async (t) => {
  const p = createBalancePolicy('leastconn');
  t.equal(p.pick([srv('a', 1, 3), srv('b', 1, 1), srv('c', 1, 2)]).name, 'b');
  t.equal(p.pick([srv('a', 4, 3), srv('b', 1, 1)]).name, 'a', '(3+1)/4 < (1+1)/1');
});

t.test('first takes the first candidate', async (t) => {
  t.equal(createBalancePolicy('first').pick([srv('x', 1, 9), srv('y', 1, 0)]).name, 'x');
});
