import t from 'tap';
import { DemandTracker } from '../../../src/pool/demand-tracker.js';
import { handoverPatience, pickDonor } from '../../../src/pool/handover-policy.js';

const demand = (setupMs: number | null, exchangeMs: number | null): DemandTracker => {
  const d = new DemandTracker();
  d.setupMs = setupMs;
  d.exchangeMs = exchangeMs;
  return d;
};

t.test('handoverPatience: take over only when it shortens the wait', async (t) => {
  t.equal(handoverPatience(demand(240, 20), [], 0, 1000), null, 'no busy connection of its own: nothing to wait for, take over now');
  t.equal(handoverPatience(demand(240, 20), [995], 0, 1000), 240, 'own connection frees in ~15 ms, a new one costs 240 ms: wait (patience = setup time)');
  t.equal(handoverPatience(demand(5, 300), [990], 0, 1000), null, 'own connection frees in ~290 ms, a new one costs 5 ms: take over');
  t.equal(handoverPatience(demand(240, 20), [1000], 30, 1000), null, '30 waiters ahead on one connection (30 × 20 ms > 240 ms): take over');
  t.equal(handoverPatience(demand(null, null), [1000], 0, 1000), 50, 'no measurements yet: wait a little, bounded by the patience timer');
});

t.test('pickDonor: the other pool with the most idle connections and no waiters of its own', async (t) => {
  const taker = { idleCount: 0, queueLength: 3 };
  const a = { idleCount: 1, queueLength: 0 };
  const b = { idleCount: 3, queueLength: 0 };
  const c = { idleCount: 5, queueLength: 1 };
  t.equal(pickDonor([taker, a, b, c], taker), b);
  t.equal(pickDonor([taker, c], taker), null, 'a pool whose own requests wait keeps its idle connections');
  t.equal(pickDonor([taker], taker), null);
});
