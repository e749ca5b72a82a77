// Issue 12 item 3: retries by cause in /metrics. A farm of a dead server (connect refused), a
// server that answers 503 (retry-on 503) and a good one, round robin with redispatch: every GET
// succeeds, and longhaul_retries_total{farm,server,cause,kind} says which server's failure
// caused each retry and with which stable code; its sum equals the attempts-after-the-first
// counted where they went (longhaul_retry_attempts_total). Validated by promtool.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { deadPort, startMisbehavingServer } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

const PROMTOOL = '/usr/bin/promtool';

function series(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

t.test('longhaul_retries_total by server, cause and kind', async (t) => {
  const f = await pkiFiles();
  const good = await startFarmServer({ name: 'good', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
  t.teardown(() => good.close());
  const busy = await startMisbehavingServer(f.pki.farm.certPem, f.pki.farm.keyPem, 'status-503');
  t.teardown(() => busy.close());
  const cfg = gatewayConfig(
    [listenerConfig('farm', f.gatewayCert, f.gatewayKey)],
    [farmConfig('farm', f.caFile, [serverConfig('dead', await deadPort()), serverConfig('busy', busy.port), serverConfig('good', good.port)], { balance: 'roundrobin', redispatch: true, retries: 3, retryOn: ['conn-failure', 'empty-response', '503'] })],
  );
  cfg.admin = { bind: { host: '127.0.0.1', port: 0 }, tokenFile: null };
  const gw = await Gateway.start(cfg, silentLogger);
  t.teardown(() => gw.stop());
  let ok = 0;
  for (let i = 0; i < 12; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port: gw.listeners[0]!.port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' });
    if (r.status === 200) ok++;
  }
  t.equal(ok, 12, 'every GET succeeded (retried away from the dead and the busy server)');
  const text = await (await fetch(`http://127.0.0.1:${gw.admin!.port}/metrics`)).text();
  const retries = series(text, 'longhaul_retries_total');
  const attempts = series(text, 'longhaul_retry_attempts_total');
  const sum = (xs: Array<{ value: number }>) => xs.reduce((n, x) => n + x.value, 0);
  const at = (server: string, cause: string, kind: string) => retries.find((x) => x.labels.server === server && x.labels.cause === cause && x.labels.kind === kind)?.value ?? 0;
  const [dead, busyServer] = gw.farms.get('farm')!.servers;
  t.ok(sum(retries) > 0, `retries counted: ${sum(retries)}`);
  t.equal(sum(retries), sum(attempts), 'every retry has a cause (where the attempt failed) and a destination (where it went)');
  t.equal(at('dead', 'LH_CONNECT_FAILED', 'counted'), dead!.counters.errors.LH_CONNECT_FAILED ?? 0, 'each connect failure on the dead server caused one counted retry');
  t.ok(at('dead', 'LH_CONNECT_FAILED', 'counted') > 0, 'the dead server caused some');
  t.equal(at('busy', 'LH_RETRY_STATUS', 'counted'), busyServer!.counters.errors.LH_RETRY_STATUS ?? 0, 'each 503 caused one counted retry');
  t.ok(at('busy', 'LH_RETRY_STATUS', 'counted') > 0, 'the busy server caused some');
  t.equal(retries.filter((x) => x.labels.server === 'good').length, 0, 'the good server caused none');
  t.ok(retries.every((x) => /^LH_[A-Z_]+$/.test(x.labels.cause ?? '') && (x.labels.kind === 'counted' || x.labels.kind === 'stale')), 'causes are stable codes, kinds a fixed pair');

  await t.test('promtool check metrics', { skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} missing (Debian package prometheus; .ci/run installs it)` }, async (t) => {
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      const p = execFile(PROMTOOL, ['check', 'metrics'], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }));
      p.stdin!.end(text);
    });
    t.equal(out.code, 0, `promtool accepts the exposition: ${out.text}`);
    t.equal(out.text.trim(), '', 'and has no lint complaint');
  });
});
