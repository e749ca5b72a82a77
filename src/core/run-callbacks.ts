/** Logger shape used here (pino or the front's FrontLog). */
interface ErrorLog {
  error(obj: object, msg: string): void;
}

/**
 * Runs one-shot callbacks (abort, drain listeners); one that throws is logged and does not stop
 * the others. The caller hands over its list and keeps none of it, so a callback that registers a
 * new listener registers it for the next event, not this one.
 */
export function runCallbacks(cbs: ReadonlyArray<() => void>, log: ErrorLog, what: string): void {
  for (const cb of cbs) {
    try {
      cb();
    } catch (err) {
      log.error({ err }, `${what} callback threw`);
    }
  }
}
