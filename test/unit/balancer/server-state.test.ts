import t from 'tap';
import { ServerStateMachine, type CheckVerdict, type StateChange } from '../../../src/balancer/server-state.js';
import type { HealthConfig } from '../../../src/config/config-types.js';

const health = (over: Partial<HealthConfig> = {}): HealthConfig => ({
  enabled: true, path: '/health', method: 'GET', expectStatus: 200,
  inter: 2000, fastinter: 500, downinter: 5000, rise: 2, fall: 3, disableOn404: true,
  timeout: 2000, observe: 'layer7', errorLimit: 4, ...over,
});
const OK: CheckVerdict = { result: 'ok' };
const NOLB: CheckVerdict = { result: 'nolb' };
const FAIL: CheckVerdict = { result: 'fail', reason: 'connection refused' };

function machine(over: Partial<HealthConfig> = {}) {
  const changes: StateChange[] = [];
  const m = new ServerStateMachine(health(over), (c) => changes.push(c));
  return { m, changes, seq: () => changes.map((c) => `${c.from}>${c.to}`).join(' ') };
}

/** A machine that has passed its first check (proven UP). */
function proven(over: Partial<HealthConfig> = {}) {
  const x = machine(over);
  x.m.checkResult(OK);
  return x;
}

t.test('starts UP but unproven: the first failed check takes it DOWN (HAProxy)', async (t) => {
  const { m, seq } = machine();
  t.equal(m.state, 'UP');
  t.equal(m.nextCheckIn(), 500, 'fastinter until the first check proves it');
  m.checkResult(FAIL);
  t.equal(m.state, 'DOWN');
  t.equal(seq(), 'UP>DOWN');
});

t.test('fall: UP → DOWN only after `fall` consecutive failures; a success resets the count', async (t) => {
  const { m, changes } = proven();
  t.equal(m.nextCheckIn(), 2000, 'inter while stable');
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  t.equal(m.state, 'UP');
  t.equal(m.nextCheckIn(), 500, 'fastinter while going down');
  m.checkResult(OK);
  t.equal(m.snapshot().failures, 0);
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  t.equal(m.state, 'UP', 'two failures after a success are not three');
  m.checkResult(FAIL);
  t.equal(m.state, 'DOWN');
  t.equal(changes.length, 1);
  t.match(changes[0]!.reason, /3 consecutive failed health check\(s\) \(fall\): connection refused/);
});

t.test('rise: DOWN → UP after `rise` consecutive successes; downinter while down, fastinter while rising', async (t) => {
  const { m, seq } = machine({ rise: 3 });
  m.checkResult(FAIL);
  t.equal(m.state, 'DOWN');
  t.equal(m.nextCheckIn(), 5000, 'downinter');
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.nextCheckIn(), 500, 'fastinter while rising');
  m.checkResult(FAIL);
  t.equal(m.snapshot().successes, 0, 'a failure restarts the rise count');
  t.equal(m.nextCheckIn(), 5000);
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.state, 'DOWN');
  m.checkResult(OK);
  t.equal(m.state, 'UP');
  t.equal(m.nextCheckIn(), 2000);
  t.equal(seq(), 'UP>DOWN DOWN>UP');
});

t.test('observe: error-limit consecutive errors take an UP server DOWN; checks bring it back', async (t) => {
  const { m, changes } = proven({ errorLimit: 3 });
  m.observe(true, 'LH_CONNECT_FAILED');
  m.observe(true, 'LH_CONNECT_FAILED');
  m.observe(false, '200');
  m.observe(true, 'status 502');
  m.observe(true, 'status 502');
  t.equal(m.state, 'UP', 'a good outcome resets the count');
  m.observe(true, 'status 502');
  t.equal(m.state, 'DOWN');
  t.match(changes[0]!.reason, /3 consecutive errors on live traffic \(observe layer7, error-limit\): status 502/);
  m.observe(true, 'more');
  t.equal(m.snapshot().observedErrors, 0, 'not counted while DOWN');
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.state, 'UP');
});

t.test('observe does nothing without health checks (nothing could bring the server back)', async (t) => {
  const { m } = machine({ enabled: false, errorLimit: 1 });
  m.observe(true, 'x');
  m.observe(true, 'x');
  t.equal(m.state, 'UP');
  m.checkResult(FAIL);
  t.equal(m.state, 'UP', 'no checks: check results are ignored too');
});

t.test('MAINT is not overridden by checks; leaving it needs one good check', async (t) => {
  const { m, seq } = proven();
  m.setAdmin('maint', 'admin API');
  t.equal(m.state, 'MAINT');
  t.equal(m.checking, false, 'checks paused');
  m.checkResult(OK);
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  m.observe(true, 'x');
  t.equal(m.state, 'MAINT');
  m.setAdmin('ready', 'admin API');
  t.equal(m.state, 'DOWN', 'unproven after maintenance');
  t.equal(m.nextCheckIn(), 500, 'fastinter: rise-1 already credited');
  m.checkResult(OK);
  t.equal(m.state, 'UP');
  t.equal(seq(), 'UP>MAINT MAINT>DOWN DOWN>UP');
});

t.test('leaving MAINT without health checks: UP at once', async (t) => {
  const { m, seq } = machine({ enabled: false });
  m.setAdmin('maint', 'x');
  m.setAdmin('ready', 'x');
  t.equal(seq(), 'UP>MAINT MAINT>UP');
});

t.test('DRAIN set by admin stays until ready, whatever the checks say', async (t) => {
  const { m, seq } = proven();
  m.setAdmin('drain', 'admin API');
  t.equal(m.state, 'DRAIN');
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.state, 'DRAIN');
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  m.checkResult(FAIL);
  t.equal(m.state, 'DOWN', 'DOWN outranks DRAIN');
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.state, 'DRAIN', 'back up, still drained by the admin');
  m.setAdmin('ready', 'admin API');
  t.equal(m.state, 'UP');
  t.equal(seq(), 'UP>DRAIN DRAIN>DOWN DOWN>DRAIN DRAIN>UP');
});

t.test('DRAIN from a 404 (disable-on-404) clears when the check answers the expected status again (NOLB)', async (t) => {
  const { m, seq } = proven();
  m.checkResult(NOLB);
  t.equal(m.state, 'DRAIN');
  m.checkResult(NOLB);
  m.checkResult(NOLB);
  m.checkResult(NOLB);
  t.equal(m.state, 'DRAIN', 'a 404 counts as alive: no fall');
  m.checkResult(OK);
  t.equal(m.state, 'UP');
  m.checkResult(NOLB);
  m.setAdmin('drain', 'admin');
  m.checkResult(OK);
  t.equal(m.state, 'DRAIN', 'admin drain stays after the 404 clears');
  t.equal(seq(), 'UP>DRAIN DRAIN>UP UP>DRAIN');
});

t.test('a 404 does not bring a DOWN server back', async (t) => {
  const { m } = machine({ rise: 1 });
  m.checkResult(FAIL);
  m.checkResult(NOLB);
  m.checkResult(NOLB);
  t.equal(m.state, 'DOWN');
  m.checkResult(OK);
  t.equal(m.state, 'UP');
});

t.test('a 404 that fails past fall while draining: DOWN, and the NOLB flag is gone', async (t) => {
  const { m } = proven({ fall: 1 });
  m.checkResult(NOLB);
  m.checkResult(FAIL);
  t.equal(m.state, 'DOWN');
  t.equal(m.snapshot().nolb, false);
  m.checkResult(OK);
  m.checkResult(OK);
  t.equal(m.state, 'UP');
});
