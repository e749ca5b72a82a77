import t from 'tap';
import { classifyFailure, parseRetryOn, type FailedAttempt } from '../../../src/proxy/retry-policy.js';

const all = parseRetryOn(['conn-failure', 'empty-response', 'junk-response', 'response-timeout', '503']);
const none = parseRetryOn([]);
const f = (over: Partial<FailedAttempt>): FailedAttempt => ({ code: 'LH_CONN_CLOSED_BEFORE_RESPONSE', phase: 'written', idempotent: true, reused: false, bodyLost: false, ...over });

t.test('the design table, with every retry-on keyword', async (t) => {
  t.equal(classifyFailure(f({ code: 'LH_CONNECT_FAILED', phase: 'not-written', idempotent: false }), all), 'counted', 'connect failure: retried, POST too');
  t.equal(classifyFailure(f({ phase: 'not-written', reused: true, idempotent: false }), all), 'stale', 'reused, not written: free');
  t.equal(classifyFailure(f({ reused: true }), all), 'stale', 'reused, written, idempotent: free');
  t.equal(classifyFailure(f({ reused: true, idempotent: false }), all), null, 'reused, written, POST: never');
  t.equal(classifyFailure(f({}), all), 'counted', 'fresh, written, idempotent: empty-response');
  t.equal(classifyFailure(f({ code: 'LH_BAD_RESPONSE' }), all), 'counted', 'junk-response');
  t.equal(classifyFailure(f({ code: 'LH_BAD_RESPONSE', idempotent: false }), all), null, 'junk-response, POST: never');
  t.equal(classifyFailure(f({ code: 'LH_SERVER_TIMEOUT' }), all), 'counted', 'response-timeout');
  t.equal(classifyFailure(f({ code: 'LH_RETRY_STATUS' }), all), 'counted', 'status');
  t.equal(classifyFailure(f({ bodyLost: true }), all), null, 'body streamed past replay-buffer: never');
  t.equal(classifyFailure(f({ code: 'LH_QUEUE_TIMEOUT', phase: 'not-written' }), all), null, 'queue timeout: never');
  t.equal(classifyFailure(f({ code: 'LH_POOL_CLOSED', phase: 'not-written', idempotent: false }), all), 'stale', 'pool closed by a reload: free');
});

t.test('an empty retry-on retries nothing but the stale-connection race', async (t) => {
  t.equal(classifyFailure(f({ code: 'LH_CONNECT_FAILED', phase: 'not-written' }), none), null);
  t.equal(classifyFailure(f({ phase: 'not-written' }), none), null);
  t.equal(classifyFailure(f({}), none), null);
  t.equal(classifyFailure(f({ code: 'LH_BAD_RESPONSE' }), none), null);
  t.equal(classifyFailure(f({ code: 'LH_SERVER_TIMEOUT' }), none), null);
  t.equal(classifyFailure(f({ reused: true }), none), 'stale');
  t.equal(classifyFailure(f({ phase: 'not-written', reused: true }), none), 'stale');
});

t.test('parseRetryOn', async (t) => {
  t.same([...parseRetryOn(['503', '502', 'conn-failure']).statuses].sort(), [502, 503]);
  const list = ['conn-failure'];
  t.equal(parseRetryOn(list), parseRetryOn(list), 'cached per list');
});
