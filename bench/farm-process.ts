// A farm in its own process (so the proxy under test and the farm do not share an event loop):
// N TLS servers, each optionally behind a WAN relay. Talks to the bench over IPC.
import { generateTestPki } from '../src/certs/dev-certs.js';
import { startFarmServer, type FarmServer } from '../src/demo/farm-server.js';
import { startWanRelay, type WanRelay } from '../src/demo/wan-relay.js';

const rttMs = Number(process.env.BENCH_RTT_MS ?? '0');
const count = Number(process.env.BENCH_SERVERS ?? '2');
const pki = await generateTestPki();
const servers: FarmServer[] = [];
const relays: WanRelay[] = [];
for (let i = 0; i < count; i++) {
  const s = await startFarmServer({ name: `s${i + 1}`, cert: pki.farm.certPem, key: pki.farm.keyPem, keepAliveTimeoutMs: 300_000 });
  servers.push(s);
  if (rttMs > 0) relays.push(await startWanRelay({ target: { host: '127.0.0.1', port: s.port }, rttMs }));
}
process.send!({
  kind: 'ready',
  ca: pki.ca.certPem,
  gatewayCert: pki.gateway.certPem,
  gatewayKey: pki.gateway.keyPem,
  ports: servers.map((s, i) => (relays[i] ? relays[i]!.port : s.port)),
});
process.on('message', (m: { kind: string }) => {
  if (m.kind === 'stats') {
    process.send!({
      kind: 'stats',
      handshakes: servers.reduce((n, s) => n + s.stats.handshakes, 0),
      requests: servers.reduce((n, s) => n + s.stats.requests, 0),
      openConnections: servers.reduce((n, s) => n + s.stats.openConnections, 0),
    });
  } else if (m.kind === 'exit') {
    process.exit(0);
  }
});
