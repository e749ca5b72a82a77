/**
 * The periodic purge step of one pool (idle-policy.ts `purgeCount`). Started by the first
 * connection, so an unused pool keeps no timer; unref'ed so it never holds the process open.
 */
export class PurgeTimer {
  #timer: NodeJS.Timeout | null = null;
  #everyMs = 0;

  constructor(private readonly step: () => void) {}

  start(everyMs: number): void {
    if (this.#timer && everyMs === this.#everyMs) return;
    this.stop();
    this.#everyMs = everyMs;
    this.#timer = setInterval(this.step, everyMs);
    this.#timer.unref();
  }

  /** A reload changed purge-interval: restart only if running. */
  retime(everyMs: number): void {
    if (this.#timer) this.start(everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
