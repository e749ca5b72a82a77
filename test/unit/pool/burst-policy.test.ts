import t from 'tap';
import { burstPatience } from '../../../src/pool/burst-policy.js';
import { DemandTracker } from '../../../src/pool/demand-tracker.js';

function demand(setupMs: number | null, exchangeMs: number | null): DemandTracker {
  const d = new DemandTracker();
  d.setupMs = setupMs;
  d.exchangeMs = exchangeMs;
  return d;
}

t.test('opens while nothing is measured', async (t) => {
  t.equal(burstPatience(demand(null, 5), [0], 0, 0), null);
  t.equal(burstPatience(demand(200, null), [0], 0, 0), null);
});

t.test('waits when a busy connection frees sooner than a new one is set up', async (t) => {
  t.equal(burstPatience(demand(200, 5), [0], 0, 1), 200, 'one busy, frees in 4 ms');
  t.equal(burstPatience(demand(200, 5), [0], 10, 1), 200, '11th waiter: 54 ms, still sooner');
  t.equal(burstPatience(demand(200, 50), [0], 4, 1), null, '5th waiter on one connection: 249 ms, open');
  t.equal(burstPatience(demand(200, 50), [0, 0, 0, 0, 0], 4, 1), 200, 'five busy: the 5th waiter gets the last one to free');
});

t.test('opens when exchanges are long compared to setup', async (t) => {
  t.equal(burstPatience(demand(20, 500), [0], 0, 100), null);
});

t.test('the moving averages follow new samples', async (t) => {
  const d = new DemandTracker();
  d.recordSetup(100);
  t.equal(d.setupMs, 100);
  d.recordSetup(200);
  t.equal(d.setupMs, 120);
});
