import type { LeaseRequest } from './lease.js';

/** A request waiting for a connection. `settle*` remove it from the queue first. */
export interface Waiter<L> {
  readonly req: LeaseRequest;
  readonly enqueuedAt: number;
  resolve(lease: L): void;
  reject(err: Error): void;
}

interface Entry<L> extends Waiter<L> {
  timer: NodeJS.Timeout;
  patienceTimer: NodeJS.Timeout | null;
}

/**
 * The FIFO queue of lease requests of one pool (mechanism only; the pool decides when a waiter
 * is served). Every waiter leaves the queue exactly once: served (`take`), timed out (`timeouts
 * queue`), out of patience (burst policy), or failed with the pool (`failAll`); its timers are
 * cleared on the way out.
 */
export class LeaseQueue<L> {
  readonly #entries: Entry<L>[] = [];

  get length(): number {
    return this.#entries.length;
  }

  /** The oldest waiter, still queued. */
  head(): Waiter<L> | undefined {
    return this.#entries[0];
  }

  /**
   * Queue a request. After `timeoutMs` it is removed and `onTimeout` decides its fate; with
   * `patienceMs` (burst policy), `onPatience` runs first if it is still queued then (the waiter
   * stays queued unless onPatience takes it).
   */
  add(req: LeaseRequest, enqueuedAt: number, timeoutMs: number, onTimeout: (w: Waiter<L>) => void, patienceMs: number | null, onPatience: (w: Waiter<L>) => void): Promise<L> {
    return new Promise<L>((resolve, reject) => {
      const e: Entry<L> = {
        req,
        enqueuedAt,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.take(e);
          onTimeout(e);
        }, timeoutMs),
        patienceTimer: patienceMs === null ? null : setTimeout(() => this.#entries.includes(e) && onPatience(e), patienceMs),
      };
      this.#entries.push(e);
    });
  }

  /** Remove a waiter (it is about to be resolved or rejected by the caller). */
  take(w: Waiter<L>): void {
    const i = this.#entries.indexOf(w as Entry<L>);
    if (i < 0) return;
    const [e] = this.#entries.splice(i, 1);
    clearTimeout(e!.timer);
    if (e!.patienceTimer) clearTimeout(e!.patienceTimer);
  }

  failAll(err: () => Error): void {
    for (const e of [...this.#entries]) {
      this.take(e);
      e.reject(err());
    }
  }
}
