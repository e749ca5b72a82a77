// The farm under test lives in its own process (bench/farm-process.ts): N TLS servers counting
// handshakes, each behind a WAN relay when rttMs > 0. Every contender of a phase talks to the
// SAME farm process.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface FarmStatsSnapshot {
  handshakes: number;
  requests: number;
  /** TLS connections open on the farm servers now. */
  openConnections: number;
}

export interface Farm {
  child: ChildProcess;
  ca: string;
  gatewayCert: string;
  gatewayKey: string;
  /** Ports clients and proxies connect to (the WAN relays when rttMs > 0). */
  ports: number[];
  /** Name in the farm certificate, sent as SNI. */
  sni: string;
  stats(): Promise<FarmStatsSnapshot>;
  stop(): void;
}

export function startFarm(rttMs: number, servers = 2): Promise<Farm> {
  const child = fork(path.join(HERE, 'farm-process.ts'), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_RTT_MS: String(rttMs), BENCH_SERVERS: String(servers) },
  });
  // Stats answers come back in request order over one IPC channel.
  const waiting: ((s: FarmStatsSnapshot) => void)[] = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`farm process exited (${code})`)));
    child.on('message', (m: { kind: string; ca: string; gatewayCert: string; gatewayKey: string; ports: number[]; handshakes: number; requests: number; openConnections: number }) => {
      if (m.kind === 'stats') {
        waiting.shift()?.({ handshakes: m.handshakes, requests: m.requests, openConnections: m.openConnections });
        return;
      }
      if (m.kind !== 'ready') return;
      resolve({
        child,
        ca: m.ca,
        gatewayCert: m.gatewayCert,
        gatewayKey: m.gatewayKey,
        ports: m.ports,
        sni: 'farm.test',
        stats: () =>
          new Promise((r) => {
            waiting.push(r);
            child.send({ kind: 'stats' });
          }),
        stop: () => {
          if (child.connected) child.send({ kind: 'exit' });
          setTimeout(() => child.kill('SIGKILL'), 2000).unref();
        },
      });
    });
  });
}
