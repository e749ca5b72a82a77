import t from 'tap';
import { isObservedError } from '../../../src/balancer/observe.js';

t.test('observe none observes nothing', async (t) => {
  t.equal(isObservedError('none', { status: 503 }), null);
  t.equal(isObservedError('none', { code: 'LH_CONNECT_FAILED', reused: false }), null);
});

t.test('layer4: connection failures are errors, any response is a success', async (t) => {
  for (const code of ['LH_CONNECT_FAILED', 'LH_CONNECT_TIMEOUT', 'LH_RESPONSE_ABORTED']) t.equal(isObservedError('layer4', { code, reused: false }), true, code);
  t.equal(isObservedError('layer4', { code: 'LH_CONN_CLOSED_BEFORE_RESPONSE', reused: false }), true, 'fresh connection closed without answer');
  t.equal(isObservedError('layer4', { status: 503 }), false);
  t.equal(isObservedError('layer4', { status: 200 }), false);
  t.equal(isObservedError('layer4', { code: 'LH_SERVER_TIMEOUT', reused: false }), null, 'layer7 only');
});

t.test('layer7 adds timeouts, bad responses and 5xx except 501/505', async (t) => {
  t.equal(isObservedError('layer7', { code: 'LH_SERVER_TIMEOUT', reused: true }), true);
  t.equal(isObservedError('layer7', { code: 'LH_BAD_RESPONSE', reused: false }), true);
  for (const s of [500, 502, 503, 504]) t.equal(isObservedError('layer7', { status: s }), true, String(s));
  for (const s of [200, 301, 404, 501, 505]) t.equal(isObservedError('layer7', { status: s }), false, String(s));
});

t.test('never the server fault: idle-close race, client abort, our queue and pool', async (t) => {
  for (const observe of ['layer4', 'layer7'] as const) {
    t.equal(isObservedError(observe, { code: 'LH_CONN_CLOSED_BEFORE_RESPONSE', reused: true }), null, 'stale reused connection');
    for (const code of ['LH_CLIENT_ABORTED', 'LH_QUEUE_TIMEOUT', 'LH_POOL_CLOSED', 'LH_BODY_TOO_LARGE_TO_REPLAY', 'LH_UNKNOWN'])
      t.equal(isObservedError(observe, { code, reused: false }), null, code);
  }
});
