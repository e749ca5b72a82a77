/**
 * Issue 11 item 2: exchange failures were classified by a regex on err.message
 * (/parse|protocol|bad response|invalid/), so undici refusing a client's header
 * ("invalid x header", UND_ERR_INVALID_ARG) was called a bad server response, retried on every
 * server and observed against their health; and a reset whose text happened to say "invalid"
 * was blamed as junk. Classification is now by stable code. Issue 14 item 1 replaced undici by
 * our codec (src/pool/http1-codec.ts), which reports LonghaulErrors with the same LH_ codes
 * undici's errors were mapped to: InvalidArgumentError / RequestContentLengthMismatchError →
 * LH_CLIENT_BAD_REQUEST, HTTPParserError / ResponseContentLengthMismatchError /
 * HeadersOverflowError (llhttp's HPE_* codes) → LH_BAD_RESPONSE.
 */
import t from 'tap';
import { LonghaulError } from '../../src/core/errors.js';
import { exchangeErrorCode } from '../../src/proxy/exchange.js';
import { classifyFailure, parseRetryOn } from '../../src/proxy/retry-policy.js';
import { isObservedError } from '../../src/balancer/observe.js';

t.test('the codec refusing the request is the client\'s fault, never retried nor observed', async (t) => {
  const refused = new LonghaulError('LH_CLIENT_BAD_REQUEST', 'invalid x-bad header value');
  const code = exchangeErrorCode(refused, 'not-written');
  t.equal(code, 'LH_CLIENT_BAD_REQUEST');
  const on = parseRetryOn(['conn-failure', 'empty-response', 'junk-response', 'response-timeout']);
  t.equal(classifyFailure({ code, phase: 'not-written', idempotent: true, reused: true, bodyLost: false }, on), null);
  t.equal(classifyFailure({ code, phase: 'written', idempotent: true, reused: false, bodyLost: false }, on), null);
  t.equal(isObservedError('layer7', { code, reused: false }), null);
  t.equal(exchangeErrorCode(new LonghaulError('LH_CLIENT_BAD_REQUEST', 'request body is 3 bytes, content-length 10'), 'written'), 'LH_CLIENT_BAD_REQUEST');
  t.equal(exchangeErrorCode(refused, 'response-started'), 'LH_CLIENT_BAD_REQUEST', 'a client fault stays one whatever the phase');
});

t.test('a message text never decides the code', async (t) => {
  const reset = Object.assign(new Error('invalid state: protocol parse failed'), { code: 'ECONNRESET' });
  t.equal(exchangeErrorCode(reset, 'written'), 'LH_CONN_CLOSED_BEFORE_RESPONSE');
  t.equal(exchangeErrorCode(reset, 'response-started'), 'LH_RESPONSE_ABORTED');
  const junk = new LonghaulError('LH_BAD_RESPONSE', 'malformed response from server (HPE_INVALID_CONSTANT)');
  t.equal(exchangeErrorCode(junk, 'written'), 'LH_BAD_RESPONSE');
  t.equal(exchangeErrorCode(junk, 'response-started'), 'LH_RESPONSE_ABORTED');
  const overflow = Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' });
  t.equal(exchangeErrorCode(overflow, 'written'), 'LH_BAD_RESPONSE');
  const closed = new LonghaulError('LH_CONN_CLOSED_BEFORE_RESPONSE', 'backend connection failed: invalid');
  t.equal(exchangeErrorCode(closed, 'written'), 'LH_CONN_CLOSED_BEFORE_RESPONSE');
  t.equal(exchangeErrorCode(closed, 'response-started'), 'LH_RESPONSE_ABORTED');
});
