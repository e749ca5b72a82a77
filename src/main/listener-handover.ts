/**
 * Upgrade or restart without refusing or resetting a client connection (issue 12 item 9): a
 * listening-socket handover, like nginx's binary upgrade (SIGUSR2) and HAProxy's `-x` /
 * expose-fd.
 *
 *   old process                                   new process (same execPath, execArgv, argv)
 *   SIGUSR2 ──► spawn, listening sockets as fds 4… ─► LONGHAUL_LISTEN_FDS names which is which
 *               (and the IPC channel on fd 3)          preflight, config; farms warm;
 *                                                      listen({ fd }) on each inherited socket;
 *                                                      pid file; READY=1 + MAINPID= to systemd
 *               ◄──────────── {"type":"ready"} ────────
 *   stops accepting, closes its admin listener,
 *   drains (shutdown-grace), exits 0
 *
 * Why nothing is refused or reset: a descriptor passed to a child is the SAME kernel socket, so
 * both processes share ONE accept queue. Closing the old process's descriptor does not close
 * the socket (the new one holds it): a connection queued but not yet accepted stays queued and
 * the new process accepts it. (SO_REUSEPORT gives each process its own queue; the kernel resets
 * what is queued on the one that closes unless net.ipv4.tcp_migrate_req=1 — MEASURED: 1
 * ECONNRESET even then, test/integration/cli-reuse-port-handover.test.ts.)
 *
 * Failure: a new process that refuses its config (preflight, bind, …), exits, or is not ready
 * within READY_TIMEOUT_MS, changes nothing: the old one logs why and keeps serving.
 *
 * Engines: `node` listeners and the admin listener hand over their socket. uWS.js exposes no
 * descriptor and cannot listen on one (uws-listener.ts listenFd): a `uws` listener needs
 * `run --reuse-port` (the new process then binds its own SO_REUSEPORT socket); without it the
 * upgrade is refused before anything is spawned.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

/** Environment variable naming the inherited listening sockets (JSON: HandoverSocket[]). */
export const LISTEN_FDS_ENV = 'LONGHAUL_LISTEN_FDS';
/** Set in the new process to the old one's PID. */
export const UPGRADE_FROM_ENV = 'LONGHAUL_UPGRADE_FROM';
/** How long the old process waits for the new one's "ready" before giving up on it (SIGTERM). */
export const READY_TIMEOUT_MS = 120_000;
/** The descriptor of the first inherited socket in the new process (0–2 stdio, 3 the IPC channel). */
const FIRST_FD = 4;

export interface HandoverSocket {
  kind: 'listener' | 'admin';
  /** Listener name; `admin` for the admin listener. */
  name: string;
  /** As configured (`bind` host) and as bound (port). */
  host: string;
  port: number;
  fd: number;
}

/** What a running gateway offers to hand over (Gateway.handoverSockets). */
export interface HandoverSource {
  readonly stopping: boolean;
  handoverSockets(): Array<HandoverSocket | { kind: 'listener'; name: string; fd: null; engine: string }>;
  /** Stop accepting on the admin listener now (the new process's admin answers from here on). */
  closeAdmin(): Promise<void>;
}

/**
 * The new process's side: the sockets the old one passed (LONGHAUL_LISTEN_FDS), taken by the
 * listener they belong to. Read once and removed from the environment (a later upgrade passes
 * its own list).
 */
export class InheritedSockets {
  readonly #free: HandoverSocket[];

  private constructor(list: HandoverSocket[]) {
    this.#free = list;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): InheritedSockets | null {
    const text = env[LISTEN_FDS_ENV];
    delete env[LISTEN_FDS_ENV];
    if (!text) return null;
    let list: HandoverSocket[];
    try {
      list = (JSON.parse(text) as HandoverSocket[]).filter((s) => Number.isInteger(s.fd) && s.fd >= FIRST_FD);
    } catch {
      throw new Error(`${LISTEN_FDS_ENV} is not the JSON list the previous process writes`);
    }
    return new InheritedSockets(list);
  }

  /** The descriptor for this listener if the old process bound the same address (port 0: any port). */
  take(kind: HandoverSocket['kind'], name: string, host: string, port: number): number | undefined {
    const i = this.#free.findIndex((s) => s.kind === kind && s.name === name && s.host === host && (port === 0 || s.port === port));
    if (i < 0) return undefined;
    return this.#free.splice(i, 1)[0]!.fd;
  }

  /**
   * Close what no listener took (its listener was removed or rebound in the new config). The
   * socket itself stays open in the old process until it exits; connections queued on it then
   * are reset by the kernel, as with any closed listener.
   */
  closeUnused(log: Logger): void {
    for (const s of this.#free.splice(0)) {
      log.warn({ kind: s.kind, name: s.name, address: `${s.host}:${s.port}` }, 'inherited listening socket not in the new configuration (listener removed or its bind changed): closed');
      try {
        closeSync(s.fd);
      } catch {
        // already closed
      }
    }
  }
}

/** True in a process started by an upgrade (it reports to the old one over IPC). */
export function isUpgradeChild(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env[UPGRADE_FROM_ENV] && typeof process.send === 'function';
}

/** New process: tell the old one why this start failed (it logs it and keeps serving). */
export function reportUpgradeFailure(reason: string): Promise<void> {
  if (!isUpgradeChild() || !process.connected) return Promise.resolve();
  // Awaited before the exit: a process.exit() right after send() could drop the message.
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    process.send!({ type: 'failed', reason }, undefined, {}, () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** New process: every listener accepts, pid file written, systemd told: the old one may stop. */
export function reportUpgradeReady(): Promise<void> {
  if (!isUpgradeChild() || !process.connected) return Promise.resolve();
  delete process.env[UPGRADE_FROM_ENV];
  return new Promise((resolve) => {
    process.send!({ type: 'ready', pid: process.pid }, undefined, {}, () => {
      // The channel is for this one message: a live IPC handle would keep a reference between
      // the two processes for nothing.
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

/** The descriptor the logger writes to when it is stdout's second descriptor (logger.ts quietStdout), else null. */
function loggerStdoutFd(log: Logger): number | null {
  const stream = (log as unknown as Record<symbol, { fd?: unknown } | undefined>)[pino.symbols.streamSym];
  return typeof stream?.fd === 'number' && stream.fd > 2 ? stream.fd : null;
}

export interface UpgradeOptions {
  /** `run --reuse-port` was given (uws listeners can then bind beside the old process). */
  reusePort: boolean;
  /** config `log.destination` (stdout: the new process gets the same stdout as this one). */
  logDestination: string;
  /** For tests: the command line of the new process (default: this one's). */
  argv?: string[];
}

/**
 * The old process's side: `begin()` (SIGUSR2) spawns the new process with the listening
 * sockets; `handedOver` resolves once it is ready and this process's admin listener is closed.
 * The caller then stops as on SIGTERM (listeners stop accepting, drain, exit 0), without
 * telling systemd STOPPING=1 (the service goes on, in the new MAINPID).
 */
export class ListenerHandover {
  readonly handedOver: Promise<void>;
  #resolve!: () => void;
  #child: ChildProcess | null = null;
  #done = false;

  constructor(
    private readonly gw: HandoverSource,
    private readonly log: Logger,
    private readonly options: UpgradeOptions,
  ) {
    this.handedOver = new Promise((r) => (this.#resolve = r));
  }

  /** Listens for SIGUSR2 (for the life of the process: while stopping it only logs). */
  onSignal(signal: NodeJS.Signals = 'SIGUSR2'): void {
    process.on(signal, () => this.begin(signal));
  }

  #stopped = false;

  /** This process stops: no upgrade from now on; a new process still starting is terminated (SIGTERM). */
  abort(): void {
    this.#stopped = true;
    if (this.#child && !this.#done) {
      this.log.warn({ new_pid: this.#child.pid }, 'upgrade: stopping before the new process was ready: terminating it');
      this.#child.kill('SIGTERM');
    }
  }

  begin(why = 'SIGUSR2'): void {
    if (this.#done || this.gw.stopping || this.#stopped) return void this.log.warn(`${why}: the gateway is stopping; no upgrade`);
    if (this.#child) return void this.log.warn({ new_pid: this.#child.pid }, `${why}: an upgrade is already starting; ignored`);
    const offered = this.gw.handoverSockets();
    const blind = offered.filter((s) => s.fd === null);
    if (blind.length > 0 && !this.options.reusePort) {
      this.log.error({ listeners: blind.map((s) => s.name) }, `${why}: upgrade refused: engine uws cannot hand its listening socket over (uWS exposes no descriptor); start the gateway with --reuse-port for those listeners, or use engine node. Still serving`);
      return;
    }
    const sockets = offered.filter((s): s is HandoverSocket => s.fd !== null);
    const passed = sockets.map((s, i) => ({ ...s, fd: FIRST_FD + i }));
    const stdoutFd = this.options.logDestination === 'stdout' ? loggerStdoutFd(this.log) : null;
    const stdio: StdioOptions = ['ignore', stdoutFd ?? 'inherit', 'inherit', 'ipc', ...sockets.map((s) => s.fd)];
    const [cmd, ...args] = this.options.argv ?? [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
    let child: ChildProcess;
    try {
      child = spawn(cmd!, args, {
        stdio,
        env: { ...process.env, [LISTEN_FDS_ENV]: JSON.stringify(passed), [UPGRADE_FROM_ENV]: String(process.pid) },
      });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `${why}: upgrade failed: could not start the new process; still serving`);
      return;
    }
    this.#child = child;
    this.log.info({ new_pid: child.pid ?? null, sockets: passed.map((s) => `${s.kind === 'admin' ? 'admin' : s.name} ${s.host}:${s.port} (fd ${s.fd})`), command: [cmd, ...args].join(' ') }, `${why}: upgrade: new process started with the listening sockets`);
    let reason: string | null = null;
    const fail = (what: string): void => {
      if (this.#done || this.#child !== child) return;
      clearTimeout(timer);
      this.#child = null;
      this.log.error({ new_pid: child.pid ?? null, reason }, `upgrade failed: ${what}; still serving`);
    };
    const timer = setTimeout(() => {
      fail(`the new process was not ready within ${READY_TIMEOUT_MS / 1000} s (terminated)`);
      child.kill('SIGTERM');
    }, READY_TIMEOUT_MS);
    child.on('error', (err) => fail(`the new process could not run: ${err.message}`));
    child.on('exit', (code, signal) => fail(`the new process exited (${signal ?? `code ${code}`}) before it was ready`));
    child.on('message', (m: { type?: string; reason?: string; pid?: number }) => {
      if (m?.type === 'failed') reason = String(m.reason);
      if (m?.type !== 'ready' || this.#done || this.#child !== child) return;
      clearTimeout(timer);
      this.#done = true;
      this.log.info({ new_pid: m.pid ?? child.pid }, 'upgrade: the new process is ready; this one stops accepting and drains');
      if (child.connected) child.disconnect();
      child.unref();
      void this.gw.closeAdmin().then(() => this.#resolve());
    });
  }
}
