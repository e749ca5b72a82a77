import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout (pino); `silent` for tests. One logger, children per component. */
export function createLogger(level: string = process.env.LONGHAUL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'longhaul' }, timestamp: pino.stdTimeFunctions.isoTime });
}

export const silentLogger: Logger = pino({ level: 'silent' });
