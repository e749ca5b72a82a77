/**
 * SIGTERM on `longhaul run`: no new connections, in-flight requests finish (with `Connection:
 * close`), idle keep-alive client connections are closed, backend connections are closed by the
 * gateway (FIN), exit 0. Both engines. Counts, never times.
 */
import https from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { startFarmServer } from '../../src/demo/farm-server.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { runCli, waitForGateway } from '../helpers/cli-child.js';
import { deadPort } from '../helpers/misbehaving-server.js';
import { pkiFiles } from '../helpers/pki-files.js';

interface Answer {
  status: number;
  body: string;
  connection: string | undefined;
}

function get(port: number, ca: string, pathname: string, agent: https.Agent): Promise<Answer & { socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | null = null;
    const req = https.request({ host: '127.0.0.1', port, path: pathname, ca, servername: 'localhost', agent }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection, socket: socket! }));
      res.on('error', reject);
    });
    req.on('socket', (sock) => (socket = sock as TLSSocket));
    req.on('error', reject);
    req.end();
  });
}

for (const engine of ['uws', 'node'] as const) {
  t.test(`SIGTERM during 10 slow responses (${engine}): all 10 complete, then exit 0`, async (t) => {
    const f = await pkiFiles();
    const s = await startFarmServer({ name: 's1', cert: f.pki.farm.certPem, key: f.pki.farm.keyPem });
    t.teardown(() => s.close());
    const port = await deadPort();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-stop-')), 'longhaul.yaml');
    writeFileSync(
      file,
      `listeners:
  - { name: clients, bind: "127.0.0.1:${port}", engine: ${engine}, farm: f, tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} } }
log: { level: info, access: false }
shutdown-grace: 20s
farms:
  - name: f
    tls: { ca: ${f.caFile}, sni: farm.test }
    pool: { max-conn: 12 }
    servers:
      - { name: s1, address: 127.0.0.1:${s.port} }
`,
    );
    const cli = runCli(file);
    t.teardown(() => void (cli.child.exitCode === null && cli.child.kill('SIGKILL')));
    const status = await waitForGateway(port, f.pki.ca.certPem);
    t.equal(status, 200, 'the gateway is up');

    // One keep-alive client that is idle when SIGTERM comes.
    const idleAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => idleAgent.destroy());
    const idle = await get(port, f.pki.ca.certPem, '/hello', idleAgent);
    t.equal(idle.status, 200);
    const idleClosed = new Promise<boolean>((r) => {
      idle.socket.once('close', () => r(true));
      setTimeout(() => r(false), 15_000).unref();
    });

    // Ten keep-alive clients, each with a slow request in flight.
    const before = s.requests.length;
    const agents = Array.from({ length: 10 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    t.teardown(() => agents.forEach((a) => a.destroy()));
    const slow = agents.map((a) => get(port, f.pki.ca.certPem, '/slow/1500', a));
    for (let i = 0; i < 200 && s.requests.length - before < 10; i++) await new Promise((r) => setTimeout(r, 25));
    t.equal(s.requests.length - before, 10, 'the 10 slow requests reached the server');

    cli.child.kill('SIGTERM');
    t.ok(await cli.waitForOutput('stopping'), 'the gateway logged that it is stopping');
    const refused = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: f.pki.ca.certPem, servername: 'localhost' }).then(
      () => false,
      (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
    );
    t.ok(refused, 'a new connection is refused once stopping');

    const answers = await Promise.all(slow);
    t.same(
      answers.map((a) => a.status),
      Array(10).fill(200),
      'all 10 in-flight requests completed',
    );
    t.same(
      answers.map((a) => a.body),
      Array(10).fill('slow 1500'),
      'with their whole body',
    );
    t.same(
      answers.map((a) => a.connection?.toLowerCase()),
      Array(10).fill('close'),
      'each carried Connection: close',
    );
    t.ok(await idleClosed, 'the idle keep-alive client connection was closed');
    t.equal(await cli.exited, 0, `exit code 0 ${cli.err()}`);
    t.equal(s.stats.openConnections, 0, 'no backend connection is left open');
    t.ok(s.stats.connectionClosedByClient >= 1, 'backend connections were closed by the gateway (FIN)');
    t.equal(s.stats.connectionClosedByServer, 0, 'none by the server');
  });
}
