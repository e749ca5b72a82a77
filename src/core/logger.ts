import { openSync, closeSync } from 'node:fs';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** `stdout` (default), `stderr` or `file:<absolute path>` (config `log.destination`). */
  destination?: string | undefined;
  /**
   * Keep native stdout noise out of the log stream (issue 12 item 7): the uWS module prints
   * `finding <name>` / `Browsed to SNI: <name>` with C stdio on fd 1. When logging to stdout,
   * pino writes to a second descriptor of the same file/pipe (opened through /proc/self/fd/1)
   * and fd 1 itself is pointed at /dev/null, so only JSON reaches the stream. Where stdout cannot
   * be reopened (a socket, e.g. systemd's journal stream) this is impossible from JavaScript:
   * use `log.destination: stderr` or `file:…` with `engine: uws` (README "Logs").
   */
  quietStdout?: boolean;
}

/**
 * JSON lines (pino), one logger, children per component; `silent` for tests. A `file:` destination
 * is reopened on SIGUSR1 (logrotate's `postrotate kill -USR1`): lines written after the signal go
 * to a file of that name, created if the old one was moved away. (Node reserves SIGUSR1 for its
 * inspector; with a file destination the gateway takes the signal instead.)
 */
export function createLogger(level: string = process.env.LONGHAUL_LOG_LEVEL ?? 'info', options: LoggerOptions = {}): Logger {
  const opts = { level, base: { app: 'longhaul' }, timestamp: pino.stdTimeFunctions.isoTime };
  const where = options.destination ?? 'stdout';
  if (where.startsWith('file:')) {
    // sync: a line logged just before exit ("stopped") is never lost; pino's own default.
    const dest = pino.destination({ dest: where.slice(5), append: true, mkdir: true, sync: true });
    process.on('SIGUSR1', () => dest.reopen());
    return pino(opts, dest);
  }
  if (where === 'stderr') return pino(opts, pino.destination({ dest: 2, sync: true }));
  const fd = options.quietStdout ? quietStdoutFd() : 1;
  const log = pino(opts, pino.destination({ dest: fd, sync: true }));
  if (options.quietStdout && fd === 1) {
    log.warn({ key: 'log.destination' }, 'stdout cannot be reopened (a socket, e.g. a systemd journal stream): the uws engine\'s native messages may appear between the log lines; use log.destination: stderr (with StandardOutput=null under systemd) or file:<path>');
  }
  return log;
}

/** A descriptor for what fd 1 is, with fd 1 itself pointed at /dev/null; 1 when not possible. */
function quietStdoutFd(): number {
  let fd: number;
  try {
    fd = openSync('/proc/self/fd/1', 'a');
  } catch {
    return 1; // a socket (ENXIO) or no /proc: noise stays possible, see LoggerOptions.quietStdout
  }
  // POSIX open() returns the lowest free descriptor: with 1 just closed (0 is stdin), /dev/null
  // becomes fd 1. Done once at start, before any native module or worker opens descriptors.
  closeSync(1);
  const devNull = openSync('/dev/null', 'w');
  if (devNull !== 1) {
    // Someone else took fd 1: leave things as they are (logs still reach the stream via `fd`).
    closeSync(devNull);
  }
  return fd;
}

export const silentLogger: Logger = pino({ level: 'silent' });
