import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli-child.js';

/** `longhaul run --config FILE …args` (sources through tsx) with its output collected. */
export interface GatewayProcess {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  /** Resolves true once stdout has a JSON log line whose msg is `msg` (bounded), false otherwise. */
  waitForLog(msg: string, maxMs?: number): Promise<boolean>;
}

export function startGatewayProcess(file: string, args: string[] = [], env: Record<string, string> = {}): GatewayProcess {
  const child = spawn(process.execPath, [...CLI, 'run', '--config', file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const has = (msg: string): boolean => out.split('\n').some((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async waitForLog(msg, maxMs = 30_000) {
      const until = Date.now() + maxMs;
      while (!has(msg) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      return has(msg);
    },
  };
}

/** SIGKILL `pid` if it is still there (teardown of a process a test may already have stopped). */
export function killQuietly(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A one-listener, one-server gateway config whose client listener runs `engine` (the uws
 * handover tests: cli-reuse-port-handover, cli-upgrade-uws).
 */
export function oneFarmConfig(opts: { port: number; engine: 'uws' | 'node'; cert: string; key: string; ca: string; farmPort: number }): string {
  return `listeners:
  - { name: clients, bind: "127.0.0.1:${opts.port}", engine: ${opts.engine}, farm: f, tls: { cert: ${opts.cert}, key: ${opts.key} } }
log: { level: info, access: false }
shutdown-grace: 5s
farms:
  - { name: f, tls: { ca: ${opts.ca}, sni: farm.test }, servers: [{ name: s1, address: "127.0.0.1:${opts.farmPort}" }] }
`;
}
