import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';

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

/** The CLI from the TypeScript sources (tsx): tests exercise src/, never a possibly stale dist/. */
export const CLI: string[] = ['--import', 'tsx', path.resolve('src/main/cli.ts')];

export function runCli(file: string, env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, [...CLI, 'run', '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/**
 * Polls `GET /hello` (one-shot TLS, `Connection: close`) until the gateway answers 200, at most
 * `tries` times 100 ms apart. Returns the last status (0: never answered).
 */
export async function waitForGateway(port: number, ca: string, tries = 100): Promise<number> {
  let status = 0;
  for (let i = 0; i < tries && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca, servername: 'localhost' }).then(
      (r) => r.status,
      () => 0,
    );
  }
  return status;
}
