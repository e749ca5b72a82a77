/**
 * Issue 11 item 2: exchange failures were classified by a regex on err.message
 * (/parse|protocol|bad response|invalid/), so undici refusing a client's header
 * ("invalid x header", UND_ERR_INVALID_ARG) was called a bad server response, retried on every
 * server and observed against their health; and a reset whose text happened to say "invalid"
 * was blamed as junk. Classification is now by undici's stable code or error class.
 */
import t from 'tap';
import { errors } from 'undici';
import { exchangeErrorCode } from '../../src/proxy/exchange.js';
import { classifyFailure, parseRetryOn } from '../../src/proxy/retry-policy.js';
import { isObservedError } from '../../src/balancer/observe.js';

t.test('the codec refusing the request is the client\'s fault, never retried nor observed', async (t) => {
  const refused = new errors.InvalidArgumentError('invalid x-bad header');
  const code = exchangeErrorCode(refused, 'not-written');
  t.equal(code, 'LH_CLIENT_BAD_REQUEST');
  const on = parseRetryOn(['conn-failure', 'empty-response', 'junk-response', 'response-timeout']);
  t.equal(classifyFailure({ code, phase: 'not-written', idempotent: true, reused: true, bodyLost: false }, on), null);
  t.equal(classifyFailure({ code, phase: 'written', idempotent: true, reused: false, bodyLost: false }, on), null);
  t.equal(isObservedError('layer7', { code, reused: false }), null);
  t.equal(exchangeErrorCode(new errors.RequestContentLengthMismatchError(), 'written'), 'LH_CLIENT_BAD_REQUEST');
});

t.test('a message text never decides the code', async (t) => {
  const reset = Object.assign(new Error('invalid state: protocol parse failed'), { code: 'ECONNRESET' });
  t.equal(exchangeErrorCode(reset, 'written'), 'LH_CONN_CLOSED_BEFORE_RESPONSE');
  t.equal(exchangeErrorCode(reset, 'response-started'), 'LH_RESPONSE_ABORTED');
  const junk = new errors.HTTPParserError('x');
  t.equal(exchangeErrorCode(junk, 'written'), 'LH_BAD_RESPONSE');
  t.equal(exchangeErrorCode(new errors.ResponseContentLengthMismatchError(), 'written'), 'LH_BAD_RESPONSE');
  t.equal(exchangeErrorCode(new errors.HeadersOverflowError(), 'written'), 'LH_BAD_RESPONSE');
});
