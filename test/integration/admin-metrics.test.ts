import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { startHarness } from '../helpers/harness.js';

const PROMTOOL = '/usr/bin/promtool';

/** `name{labels} value` → value, for one exact series line. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('GET /metrics: Prometheus text that promtool accepts, with the counts the gateway saw', async (t) => {
  const h = await startHarness({ servers: 2, admin: {}, pool: { maxConn: 2, minIdle: 0 } });
  t.teardown(() => h.close());
  const get = (path: string) => oneShotRequest({ host: '127.0.0.1', port: h.port, path, ca: h.pki.pki.ca.certPem, servername: 'localhost' });
  for (let i = 0; i < 6; i++) t.equal((await get('/hello')).status, 200);
  const res = await fetch(`http://127.0.0.1:${h.gateway.admin!.port}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();

  const ok = ['s1', 's2'].reduce((n, s) => n + (sample(text, `longhaul_requests_total{farm="farm",server="${s}",code_class="2xx"}`) ?? 0), 0);
  t.equal(ok, 6, '2xx responses summed over servers');
  const hs = ['s1', 's2'].reduce((n, s) => n + (sample(text, `longhaul_tls_handshakes_total{farm="farm",server="${s}",kind="full"}`) ?? 0) + (sample(text, `longhaul_tls_handshakes_total{farm="farm",server="${s}",kind="resumed"}`) ?? 0), 0);
  t.equal(hs, h.handshakes(), 'handshakes agree with what the servers counted');
  t.equal(sample(text, 'longhaul_server_up{farm="farm",server="s1"}'), 1);
  t.equal(sample(text, 'longhaul_server_state{farm="farm",server="s1",state="UP"}'), 1);
  t.equal(sample(text, 'longhaul_server_state{farm="farm",server="s1",state="DOWN"}'), 0);
  t.equal(sample(text, 'longhaul_request_duration_seconds_count{farm="farm"}'), 6, 'one total-latency observation per request');
  t.equal(sample(text, 'longhaul_queue_wait_seconds_count{farm="farm"}'), 6);
  t.ok((sample(text, 'longhaul_backend_connections{farm="farm",server="s1",state="idle"}') ?? -1) >= 0, 'connections by state');
  t.match(text, /longhaul_certificate_expiry_timestamp_seconds\{where="listeners\[0\]\.tls",file="[^"]+"\} \d{10}/, 'listener certificate expiry');
  t.notMatch(text, /server_ms|_ms\b/, 'units are seconds');

  // A second scrape sees new traffic (collected at scrape time, not cached).
  t.equal((await get('/hello')).status, 200);
  const again = await (await fetch(`http://127.0.0.1:${h.gateway.admin!.port}/metrics`)).text();
  t.equal(sample(again, 'longhaul_request_duration_seconds_count{farm="farm"}'), 7);

  await t.test('promtool check metrics', { skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} missing (Debian package prometheus; .ci/run installs it)` }, async (t) => {
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    t.equal(check.status, 0, `promtool check metrics accepts the exposition: ${check.stdout}${check.stderr}`);
    t.equal((check.stdout + check.stderr).trim(), '', 'and has no lint complaint (names, units, help)');
  });
});
