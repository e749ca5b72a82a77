/**
 * Issue 13 items 3-4: who may use the gateway, and the TLS it accepts. Real TLS clients (node:tls
 * and the openssl command-line client) against a gateway built from YAML, a recording backend
 * behind it. Counts: handshakes that completed, requests the backend received, statuses.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { createCa, issueLeaf } from '../../src/certs/dev-certs.js';
import { loadConfigText } from '../../src/config/load-config.js';
import { startDefaultGateway } from '../helpers/default-gateway.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { header } from '../helpers/recording-backend.js';

interface Attempt {
  /** The TLS handshake completed. */
  handshake: boolean;
  status: number | null;
  error: string | null;
}

/** One GET over a new TLS connection; never throws. */
function tryGet(port: number, o: { localAddress?: string; cert?: string; key?: string; ca: string; headers?: string } = { ca: '' }): Promise<Attempt> {
  return new Promise((resolve) => {
    const out: Attempt = { handshake: false, status: null, error: null };
    let data = '';
    const s = tls.connect({
      host: '127.0.0.1', port, ca: o.ca, servername: 'localhost',
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
    });
    const done = (): void => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      out.status = m ? Number(m[1]) : null;
      resolve(out);
    };
    const timer = setTimeout(() => s.destroy(new Error('test timeout')), 5000);
    s.on('secureConnect', () => {
      out.handshake = true;
      s.write(`GET /who HTTP/1.1\r\nHost: localhost\r\n${o.headers ?? ''}Connection: close\r\n\r\n`);
    });
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', (err) => (out.error ??= err.message));
    s.on('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Asynchronous: the gateway runs in this process, a synchronous spawn would stall its handshake. */
function openssl(port: number, args: string[]): Promise<{ connected: boolean; alert: boolean; output: string }> {
  return new Promise((resolve) => {
    const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
    c.stderr.on('data', (d: Buffer) => (output += d.toString('latin1')));
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      // s_client prints the negotiated cipher; "(NONE)" when the handshake failed.
      const m = /Cipher is (\S+)/.exec(output);
      // `alert`: the server refused (handshake failure 40 / protocol version 70), not our client.
      resolve({ connected: code === 0 && !!m && m[1] !== '(NONE)', alert: /alert (handshake failure|protocol version)/.test(output), output });
    });
  });
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

t.test('allow: a client outside the list is closed before TLS; one inside is served', async (t) => {
  const f = await pkiFiles();
  const g = await startDefaultGateway('    allow: [127.0.0.2/32, "::1"]\n');
  t.teardown(() => g.close());
  const outside = await tryGet(g.port, { ca: f.pki.ca.certPem, localAddress: '127.0.0.1' });
  t.equal(outside.handshake, false, 'no handshake for 127.0.0.1');
  t.equal(outside.status, null, 'no answer');
  const inside = await tryGet(g.port, { ca: f.pki.ca.certPem, localAddress: '127.0.0.2' });
  t.equal(inside.status, 200, '127.0.0.2 is served');
  t.equal(g.backend.requests.length, 1, 'the backend saw only the allowed client');
  t.equal(g.gateway.listeners[0]!.stats().refused, 1, 'one refused connection counted');
});

t.test('max-conn: connections above it are refused, the process lives, a slot frees on close', async (t) => {
  const f = await pkiFiles();
  const g = await startDefaultGateway('    max-conn: 3\n');
  t.teardown(() => g.close());
  const held: tls.TLSSocket[] = [];
  for (let i = 0; i < 3; i++) {
    held.push(await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: g.port, ca: f.pki.ca.certPem, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    }));
  }
  const fourth = await tryGet(g.port, { ca: f.pki.ca.certPem });
  t.equal(fourth.handshake, false, 'the 4th connection gets no handshake');
  t.equal(g.gateway.listeners[0]!.stats().refused, 1, 'counted as refused');
  const closed = new Promise((r) => held[0]!.once('close', r));
  held[0]!.destroy();
  await closed;
  // The listener learns of the close asynchronously: retry a bounded number of times.
  let again: Attempt | null = null;
  for (let i = 0; i < 20 && again?.status !== 200; i++) again = await tryGet(g.port, { ca: f.pki.ca.certPem });
  t.equal(again?.status, 200, 'a freed slot serves a new client');
  for (const s of held) s.destroy();
});

t.test('client certificates: required and optional, subject forwarded, spoofed header dropped', async (t) => {
  const f = await pkiFiles();
  const office = await createCa({ commonName: 'office CA' });
  const stranger = await createCa({ commonName: 'stranger CA' });
  const officeClient = await issueLeaf(office, { commonName: 'pc-0042.branch.local', dns: [], ip: [] });
  const strangerClient = await issueLeaf(stranger, { commonName: 'intruder', dns: [], ip: [] });
  const caFile = path.join(f.dir, 'office-ca.pem');
  writeFileSync(caFile, office.certPem);
  const spoof = 'X-Client-Subject: CN=ceo\r\n';

  for (const verify of ['required', 'optional'] as const) {
    await t.test(`verify: ${verify}`, async (t) => {
      const g = await startDefaultGateway(`    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey}, client-ca: ${caFile}, verify: ${verify}, client-subject-header: X-Client-Subject }\n`);
      t.teardown(() => g.close());
      const good = await tryGet(g.port, { ca: f.pki.ca.certPem, cert: officeClient.certPem, key: officeClient.keyPem, headers: spoof });
      t.equal(good.status, 200, 'an office certificate is served');
      const seen = g.backend.requests.at(-1)!;
      t.same(header(seen.rawHeaders, 'x-client-subject'), ['CN=pc-0042.branch.local'], 'the verified subject, and only it, reaches the farm');

      const bad = await tryGet(g.port, { ca: f.pki.ca.certPem, cert: strangerClient.certPem, key: strangerClient.keyPem });
      t.equal(bad.status, null, 'a certificate from another CA gets nothing');

      const none = await tryGet(g.port, { ca: f.pki.ca.certPem, headers: spoof });
      if (verify === 'required') {
        t.equal(none.status, null, 'no certificate: nothing');
        t.equal(g.backend.requests.length, 1, 'the backend saw only the office client');
      } else {
        t.equal(none.status, 200, 'no certificate is fine with optional');
        t.same(header(g.backend.requests.at(-1)!.rawHeaders, 'x-client-subject'), [], 'and carries no subject (the spoofed one is dropped)');
        t.equal(g.backend.requests.length, 2, `the backend saw the office client and the anonymous one: ${JSON.stringify(g.backend.requests.map((r) => header(r.rawHeaders, 'x-client-subject')))}`);
      }
    });
  }
});

t.test('TLS policy: TLS 1.1 and non-forward-secret ciphers are refused, the defaults are served', { skip: hasOpenssl ? false : 'openssl not installed' }, async (t) => {
  for (const engine of ['node', 'uws'] as const) {
    await t.test(`engine ${engine}`, async (t) => {
      const g = await startDefaultGateway(`    engine: ${engine}\n`);
      t.teardown(() => g.close());
      const good = await openssl(g.port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
      t.ok(good.connected, 'TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 is served');
      const tls13 = await openssl(g.port, ['-tls1_3']);
      t.ok(tls13.connected, 'TLS 1.3 is served');
      const noFs = await openssl(g.port, ['-tls1_2', '-cipher', 'AES128-SHA']);
      t.ok(!noFs.connected && noFs.alert, 'AES128-SHA (no forward secrecy) is refused by the server');
      const cbc = await openssl(g.port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA']);
      t.ok(!cbc.connected && cbc.alert, 'ECDHE-RSA-AES128-SHA (not AEAD) is refused by the server');
      const old = await openssl(g.port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
      t.ok(!old.connected && old.alert, 'TLS 1.1 is refused by the server');
    });
  }
  await t.test('min-version TLSv1.3 (node engine)', async (t) => {
    const f = await pkiFiles();
    const g = await startDefaultGateway(`    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey}, min-version: TLSv1.3 }\n`);
    t.teardown(() => g.close());
    t.notOk((await openssl(g.port, ['-tls1_2'])).connected, 'TLS 1.2 refused');
    t.ok((await openssl(g.port, ['-tls1_3'])).connected, 'TLS 1.3 served');
  });
});

t.test('check refuses what the uws engine cannot honour, naming the key', async (t) => {
  const f = await pkiFiles();
  const base = (listener: string) => `listeners:
  - name: c
    bind: 127.0.0.1:0
    engine: uws
    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey}${listener.startsWith('tls:') ? listener.slice(4) : ''} }
    farm: farm
${listener.startsWith('tls:') ? '' : `    ${listener}\n`}farms:
  - name: farm
    servers: [{ name: a, address: 127.0.0.1:1 }]
`;
  const cases: Array<[string, string]> = [
    ['allow: [10.0.0.0/8]', 'listeners[0].allow'],
    ['max-conn: 10', 'listeners[0].max-conn'],
    [`tls:, client-ca: ${f.caFile}`, 'listeners[0].tls.client-ca'],
    ['tls:, min-version: TLSv1.3', 'listeners[0].tls.min-version'],
  ];
  for (const [yaml, key] of cases) {
    const r = loadConfigText(base(yaml), {}, f.dir);
    t.equal(r.ok, false, `${yaml} refused`);
    if (!r.ok) t.ok(r.issues.some((i) => i.path === key && /engine uws/.test(i.message)), `issue names ${key}: ${JSON.stringify(r.issues)}`);
  }
  const ok = loadConfigText(base('tls:, ciphers: "ECDHE-RSA-AES256-GCM-SHA384"'), {}, f.dir);
  t.equal(ok.ok, true, 'a cipher list is fine on uws');
  const junk = loadConfigText(base('tls:, ciphers: "NOT-A-CIPHER"'), {}, f.dir);
  t.ok(!junk.ok && junk.issues.some((i) => i.path === 'listeners[0].tls.ciphers'), 'an unknown cipher list is refused by name');
  const bare = loadConfigText(base('tls:, client-subject-header: X-Subject').replace('engine: uws', 'engine: node'), {}, f.dir);
  t.ok(!bare.ok && bare.issues.some((i) => i.path === 'listeners[0].tls.client-subject-header'), 'a subject header without client-ca is refused');
  const empty = loadConfigText(base('allow: []').replace('engine: uws', 'engine: node'), {}, f.dir);
  t.ok(!empty.ok && empty.issues.some((i) => i.path === 'listeners[0].allow'), 'an empty allow list is refused');
});
