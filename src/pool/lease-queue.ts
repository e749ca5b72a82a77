import type { LeaseRequest } from './lease.js';

/** A request waiting for a connection. `settle*` remove it from the queue first. */
export interface Waiter<L> {
  readonly req: LeaseRequest;
  readonly enqueuedAt: number;
  /**
   * Its patience ran out (or it had none): the next wake-up may close another key's idle
   * connection to open one of its own (design "Shared budgets hand over by key").
   */
  impatient: boolean;
  resolve(lease: L): void;
  reject(err: Error): void;
}

interface Entry<L> extends Waiter<L> {
  timer: NodeJS.Timeout;
  patienceTimer: NodeJS.Timeout | null;
  unlisten: (() => void) | null;
}

/**
 * The FIFO queue of lease requests of one pool (mechanism only; the pool decides when a waiter
 * is served). Every waiter leaves the queue exactly once: served (`take`), timed out (`timeouts
 * queue`), its client aborted (the request's AbortSignal, issue 11 item 6), or failed with the
 * pool (`failAll`); its timers and its abort listener are removed on the way out. Patience (burst
 * and hand-over policies) does not remove a waiter: `onPatience` decides.
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
  add(
    req: LeaseRequest,
    enqueuedAt: number,
    timeoutMs: number,
    onTimeout: (w: Waiter<L>) => void,
    patienceMs: number | null,
    onPatience: (w: Waiter<L>) => void,
    onAbort: (w: Waiter<L>) => void,
    impatient = false,
  ): Promise<L> {
    return new Promise<L>((resolve, reject) => {
      const e: Entry<L> = {
        req,
        enqueuedAt,
        impatient,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.take(e);
          onTimeout(e);
        }, timeoutMs),
        patienceTimer: patienceMs === null ? null : setTimeout(() => this.#entries.includes(e) && onPatience(e), patienceMs),
        unlisten: null,
      };
      const signal = req.signal;
      if (signal) {
        const abort = (): void => {
          if (!this.#entries.includes(e)) return;
          this.take(e);
          onAbort(e);
        };
        signal.addEventListener('abort', abort, { once: true });
        e.unlisten = () => signal.removeEventListener('abort', abort);
      }
      this.#entries.push(e);
    });
  }

  /** Queued waiters, oldest first (a copy: serving one changes the queue). */
  all(): Waiter<L>[] {
    return [...this.#entries];
  }

  /** Remove a waiter (it is about to be resolved or rejected by the caller). */
  take(w: Waiter<L>): void {
    const i = this.#entries.indexOf(w as Entry<L>);
    if (i < 0) return;
    const [e] = this.#entries.splice(i, 1);
    clearTimeout(e!.timer);
    if (e!.patienceTimer) clearTimeout(e!.patienceTimer);
    e!.unlisten?.();
  }

  failAll(err: () => Error): void {
    for (const e of [...this.#entries]) {
      this.take(e);
      e.reject(err());
    }
  }
}
