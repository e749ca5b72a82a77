import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** `longhaul run --config FILE` as a child process; stdout / stderr are collected. */
export interface CliChild {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resolves once stdout contains `text` (polls, bounded by `maxMs`); false if it never did. */
  waitForOutput(text: string | RegExp, maxMs?: number): Promise<boolean>;
}

export function runCli(file: string, env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, [path.resolve('bin/longhaul.js'), 'run', '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async waitForOutput(text, maxMs = 15_000) {
      const until = Date.now() + maxMs;
      const has = (): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!has() && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      return has();
    },
  };
}
