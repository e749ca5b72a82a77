/**
 * Readiness and stop notices to systemd (`Type=notify`, issue 12 item 2), through the
 * `systemd-notify` helper. Node has no AF_UNIX datagram sockets (node:dgram is udp4/udp6 only),
 * so the sd_notify datagram cannot be sent from JavaScript without a native module; the helper is
 * systemd's own. The unit needs `NotifyAccess=all` (the helper is a child of the main process).
 * Since systemd 246 `systemd-notify` (without --no-block) waits on a BARRIER=1 until the manager
 * has read the message, so the old race (helper exits before PID 1 attributes the datagram to
 * the unit) is gone. Without NOTIFY_SOCKET (not under systemd) nothing is sent.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger.js';

/** `mainPid`: after a handover (listener-handover.ts) the new process is the service's main PID (MAINPID=; systemd accepts it from a process of the unit's cgroup with NotifyAccess=all). */
export type ServiceNotice = { kind: 'ready'; status: string; mainPid?: number } | { kind: 'stopping' } | { kind: 'status'; status: string };

function args(n: ServiceNotice): string[] {
  if (n.kind === 'ready') return ['--ready', `--status=${n.status}`, ...(n.mainPid ? [`MAINPID=${n.mainPid}`] : [])];
  if (n.kind === 'stopping') return ['STOPPING=1'];
  return [`--status=${n.status}`];
}

/** Resolves true once the notice was delivered, false when there is no NOTIFY_SOCKET or it failed (logged). */
export function notifyService(n: ServiceNotice, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('systemd-notify', args(n), { env, timeout: 10_000 }, (err, _out, stderr) => {
      if (err) log.warn({ notice: n.kind, err: err.message, stderr: String(stderr).trim() }, 'could not notify the service manager (systemd-notify)');
      resolve(!err);
    });
  });
}
