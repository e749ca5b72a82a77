/**
 * `longhaul upgrade --pid-file FILE [--timeout SECONDS]` (issue 12 item 9): the SIGUSR2 handover
 * (listener-handover.ts) as a command that waits for its outcome, for scripts and runbooks.
 * Sends SIGUSR2 to the PID in FILE, then watches:
 *   - FILE names another live process → upgraded (exit 0; the old one drains and exits by itself);
 *   - the new process (a child of the old one, /proc/<pid>/task/<pid>/children) appeared and
 *     exited while FILE still names the old one → failed (exit 1; the gateway's log says why:
 *     `upgrade failed`), the old one serves on;
 *   - nothing within the timeout → exit 1 (`upgrade refused` in the log, e.g. a uws listener
 *     without --reuse-port, or a new process still starting).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';

function readPid(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie answers kill(0) too: /proc says whether it still runs.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exe(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** The old process's children running the same executable (node): the new gateway, not a systemd-notify helper. */
function children(pid: number): number[] {
  try {
    const own = exe(pid);
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).filter((c) => own !== null && exe(c) === own);
  } catch {
    return [];
  }
}

export async function runUpgradeCommand(args: string[], usage: (problem: string) => number): Promise<number> {
  const { values } = parseArgs({ args, options: { 'pid-file': { type: 'string' }, timeout: { type: 'string', default: '130' } } });
  const file = values['pid-file'];
  if (!file) return usage('upgrade needs --pid-file FILE (the file `run --pid-file` writes)');
  const timeoutS = Number(values.timeout);
  if (!(timeoutS > 0)) return usage('--timeout: seconds, above 0');
  const old = readPid(file);
  if (old === null || !alive(old)) {
    process.stderr.write(`longhaul upgrade: ${file} names no running gateway\n`);
    return 1;
  }
  const before = new Set(children(old));
  process.kill(old, 'SIGUSR2');
  const until = Date.now() + timeoutS * 1000;
  const seen = new Set<number>();
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    const now = readPid(file);
    if (now !== null && now !== old && alive(now)) {
      process.stdout.write(`upgraded: pid ${old} → ${now} (${old} drains and exits)\n`);
      return 0;
    }
    if (!alive(old)) {
      process.stderr.write(`longhaul upgrade: the gateway (pid ${old}) exited and ${file} names no new process\n`);
      return 1;
    }
    const kids = children(old).filter((c) => !before.has(c));
    for (const k of kids) seen.add(k);
    const gone = [...seen].filter((k) => !alive(k));
    if (gone.length > 0 && readPid(file) === old) {
      process.stderr.write(`longhaul upgrade: the new process (pid ${gone.join(', ')}) exited before it was ready; pid ${old} serves on. The gateway's log has the reason ("upgrade failed")\n`);
      return 1;
    }
  }
  process.stderr.write(`longhaul upgrade: not upgraded within ${timeoutS} s; pid ${old} serves on. The gateway's log says why ("upgrade refused" / "upgrade failed")\n`);
  return 1;
}
