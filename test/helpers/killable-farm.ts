import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkiFiles } from './pki-files.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'farm-child.ts');

/** A farm server in a child process (test/helpers/farm-child.ts) that can be SIGKILLed and restarted on its port. */
export interface KillableServer {
  readonly name: string;
  readonly port: number;
  /** Processes started so far (1 + restarts). */
  readonly generations: number;
  /** SIGKILL the running process, then have the (already started) replacement listen on the same port. */
  killAndRestart(): Promise<void>;
  /** `<method> <request id>` of every request head any generation received. */
  received(): string[];
  close(): void;
}

function spawnChild(name: string, logFile: string, env: { cert: string; key: string }): Promise<ChildProcess> {
  const child = fork(CHILD, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NAME: name, LOG_FILE: logFile, CERT_FILE: env.cert, KEY_FILE: env.key },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`farm child ${name} exited early (${code})`)));
    child.once('message', () => resolve(child));
  });
}

function listen(child: ChildProcess, port: number): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.send({ kind: 'listen', port });
  });
}

export async function startKillableServer(name: string): Promise<KillableServer> {
  const f = await pkiFiles();
  const env = { cert: f.farmCert, key: f.farmKey };
  const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'longhaul-kill-')), `${name}.log`);
  let current = await spawnChild(name, logFile, env);
  const port = await listen(current, 0);
  let generations = 1;
  const all = new Set<ChildProcess>([current]);
  return {
    name,
    port,
    get generations() {
      return generations;
    },
    async killAndRestart() {
      const next = await spawnChild(name, logFile, env);
      all.add(next);
      const old = current;
      old.removeAllListeners('exit'); // spawnChild's "exited early" rejection
      const gone = new Promise<void>((r) => old.once('exit', () => r()));
      old.kill('SIGKILL');
      await gone;
      current = next;
      generations++;
      await listen(next, port);
    },
    received() {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
    },
    close() {
      for (const c of all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
