/**
 * `run --pid-file FILE` (issue 12 item 1): the gateway's own PID, written once its listeners
 * accept (a refused start leaves no file behind), atomically (temp file + rename: a reader never
 * sees a half-written number). Removed at exit only while it still holds this PID: during a
 * `--reuse-port` handover the new process has already written its own PID there.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

export function writePidFile(file: string, pid = process.pid): void {
  const tmp = `${file}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Removes `file` if it names `pid`; true if removed. Never throws. */
export function removePidFile(file: string, pid = process.pid): boolean {
  try {
    if (readFileSync(file, 'utf8').trim() !== String(pid)) return false;
    unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}
