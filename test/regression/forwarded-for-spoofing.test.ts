// Bug (issue 15): a client's X-Forwarded-For was kept and appended to (its leftmost entry, the
// one backends log as "the client", was the client's choice); X-Real-IP, Forwarded and
// X-Forwarded-Host passed unchanged. Fix: `forwarded-for` (default replace) applied by
// src/proxy/forwarded-headers.ts; `trust <CIDR list>` keeps the chain only from listed peers.
import t from 'tap';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { header } from '../helpers/recording-backend.js';
import { rawTlsRequest } from '../helpers/raw-tls-client.js';

const FORGED = 'X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=http\r\nX-Forwarded-Host: evil.test\r\nX-Forwarded-Proto: http\r\n';

async function forwarded(listenerYaml: string) {
  const g = await startDefaultGateway(listenerYaml);
  try {
    const r = await rawTlsRequest({ port: g.port, data: `GET /who HTTP/1.1\r\nHost: app.test\r\n${FORGED}\r\n`, stopAfterResponses: 1 });
    if (r.responses[0]?.status !== 200) throw new Error(`status ${r.responses[0]?.status}`);
    const raw = g.backend.requests.find((x) => x.url === '/who')!.rawHeaders;
    const h = (n: string) => header(raw, n);
    return { xff: h('x-forwarded-for'), realIp: h('x-real-ip'), fwd: h('forwarded'), host: h('x-forwarded-host'), proto: h('x-forwarded-proto') };
  } finally {
    await g.close();
  }
}

t.test('default (replace): nothing the client forged reaches the server', async (t) => {
  // X-Forwarded-Host: the Host the client sent (app.test), because the farm's default
  // host-header (sni, issue 13) sends Host: farm.test — never the forged evil.test.
  t.same(await forwarded(''), { xff: ['127.0.0.1'], realIp: [], fwd: [], host: ['app.test'], proto: ['https'] });
});

t.test('trust: a peer outside the list is replaced, a listed one keeps its chain', async (t) => {
  t.same((await forwarded('    forwarded-for: trust 10.0.0.0/8\n')).xff, ['127.0.0.1']);
  t.same(await forwarded('    forwarded-for: trust 127.0.0.0/8, ::1\n'), {
    xff: ['6.6.6.6, 127.0.0.1'],
    realIp: ['6.6.6.6'],
    fwd: ['for=6.6.6.6;proto=http, for=127.0.0.1;proto=https'],
    host: ['evil.test'],
    proto: ['http'],
  });
});
