import t from 'tap';
import { downstreamResponseHead, upstreamRequestHeaders } from '../../../src/proxy/hop-headers.js';

t.test('request: hop-by-hop headers and the ones Connection names are removed; Host kept; client forwarding headers replaced (default policy)', async (t) => {
  const out = upstreamRequestHeaders(
    [
      ['Host', 'api.example.net'],
      ['Connection', 'close, X-Secret'],
      ['X-Secret', 'hop'],
      ['Keep-Alive', 'timeout=5'],
      ['TE', 'trailers'],
      ['Trailer', 'x'],
      ['Transfer-Encoding', 'chunked'],
      ['Upgrade', 'h2c'],
      ['Proxy-Connection', 'keep-alive'],
      ['Expect', '100-continue'],
      ['X-Forwarded-For', '10.0.0.9'],
      ['X-Forwarded-Proto', 'http'],
      ['Content-Length', '5'],
      ['Accept', 'a'],
      ['Accept', 'b'],
    ],
    { remoteAddress: '192.0.2.7', keepContentLength: true },
  );
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!, out[i + 1]!]);
  t.same(pairs, [
    ['Host', 'api.example.net'],
    ['Content-Length', '5'],
    ['Accept', 'a'],
    ['Accept', 'b'],
    ['x-forwarded-for', '192.0.2.7'],
    ['x-forwarded-proto', 'https'],
  ]);
});

t.test('request: forwarded-for append keeps the client chain and adds this hop', async (t) => {
  const out = upstreamRequestHeaders(
    [['Host', 'h'], ['X-Forwarded-For', '10.0.0.9'], ['X-Forwarded-Proto', 'http']],
    { remoteAddress: '192.0.2.7', keepContentLength: false, forwarded: { mode: 'append' } },
  );
  t.same(out, ['Host', 'h', 'x-forwarded-for', '10.0.0.9, 192.0.2.7', 'x-forwarded-proto', 'http']);
});

t.test('request: Connection cannot name Host, Content-Length or the other headers the gateway relies on (token ignored)', async (t) => {
  const out = upstreamRequestHeaders(
    [['Host', 'api.example.net'], ['Connection', 'Host, content-length, Idempotency-Key, X-Gone'], ['Content-Length', '3'], ['Idempotency-Key', 'k1'], ['X-Gone', '1']],
    { remoteAddress: '192.0.2.7', keepContentLength: true },
  );
  t.same(out, ['Host', 'api.example.net', 'Content-Length', '3', 'Idempotency-Key', 'k1', 'x-forwarded-for', '192.0.2.7', 'x-forwarded-proto', 'https']);
});

t.test('request: Content-Length sent once, digits only (undici refuses a repeated or padded one)', async (t) => {
  const out = upstreamRequestHeaders([['Host', 'h'], ['Content-Length', ' 5 '], ['content-length', '5']], { remoteAddress: '::1', keepContentLength: true });
  t.same(out.slice(0, 4), ['Host', 'h', 'Content-Length', '5']);
  t.equal(out.filter((v) => v.toLowerCase() === 'content-length').length, 1);
});

t.test('request: Content-Length dropped when the body is re-framed', async (t) => {
  const out = upstreamRequestHeaders([['content-length', '0']], { remoteAddress: '::1', keepContentLength: false });
  t.notOk(out.includes('content-length'));
});

t.test('response: hop-by-hop and Date removed, Set-Cookie kept apart, close and keep-alive hint learned', async (t) => {
  const raw = [
    'Date', 'x', 'Connection', 'close', 'Keep-Alive', 'timeout=7, max=100', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2',
    'Content-Length', '12', 'Content-Type', 'text/plain',
  ].map((s) => Buffer.from(s));
  const h = downstreamResponseHead(raw);
  t.same(h.headers, [
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['Content-Type', 'text/plain'],
  ]);
  t.equal(h.serverClose, true);
  t.equal(h.keepAliveHintMs, 7000);
  t.equal(h.contentLength, 12);
});

t.test('response: Transfer-Encoding wins over Content-Length (RFC 9112 §6.3)', async (t) => {
  const h = downstreamResponseHead(['Transfer-Encoding', 'chunked', 'Content-Length', '3'].map((s) => Buffer.from(s)));
  t.equal(h.contentLength, null);
  t.equal(h.serverClose, false);
});
