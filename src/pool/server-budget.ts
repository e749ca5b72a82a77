import { pickDonor } from './handover-policy.js';

/** What the budget needs of a pool. */
export interface BudgetedPool {
  readonly openCount: number;
  readonly idleCount: number;
  readonly queueLength: number;
  /** enqueuedAt of the oldest waiter; null when none waits. */
  readonly oldestWaitAt: number | null;
  /** Retire the least recently used idle connection; false when there is none. */
  giveUpIdle(): boolean;
  /** Capacity or an idle connection was freed elsewhere: serve queued requests if possible. */
  serveWaiters(): void;
}

/**
 * `max-conn` is per *server* (design "Sizing"), while connections live in one pool per key: with
 * `sni: host` a server has a pool per name. The budget makes every pool of a server count
 * against one limit: a pool may open only while the server's total is below max-conn; when it is
 * full, an idle connection of another key is given up for a request whose wait that shortens
 * (handover-policy.ts); and every release or close in one pool wakes the waiters of every other
 * pool (`wake`), so no waiter is forgotten. `max-queue` (HAProxy `maxqueue`) bounds the
 * server's waiters across its keys.
 */
export class ServerBudget {
  readonly #pools = new Set<BudgetedPool>();

  constructor(
    public max: number,
    /** pool.max-queue: 0 = unlimited (HAProxy's default). */
    public maxQueue = 0,
  ) {}

  add(pool: BudgetedPool): void {
    this.#pools.add(pool);
  }

  remove(pool: BudgetedPool): void {
    this.#pools.delete(pool);
  }

  get open(): number {
    let n = 0;
    for (const p of this.#pools) n += p.openCount;
    return n;
  }

  /** Requests waiting for a connection to this server, every key. */
  get queued(): number {
    let n = 0;
    for (const p of this.#pools) n += p.queueLength;
    return n;
  }

  hasRoom(): boolean {
    return this.open < this.max;
  }

  queueFull(): boolean {
    return this.maxQueue > 0 && this.queued >= this.maxQueue;
  }

  /** Make room for `pool` by closing an idle connection of another pool (handover-policy.ts pickDonor). */
  reclaimFor(pool: BudgetedPool): boolean {
    const donor = pickDonor(this.#pools, pool);
    return donor ? donor.giveUpIdle() : false;
  }

  /**
   * Is a waiter of another key, one with no connection at all, older than `than`? Then `from`'s
   * released connection is closed to make room for it rather than handed to `from`'s own waiter
   * (handover-policy.ts): a key whose own waiters never run out would otherwise starve a key
   * that has nothing to wait for.
   */
  starvedBefore(from: BudgetedPool, than: number): boolean {
    for (const p of this.#pools) if (p !== from && p.openCount === 0 && p.oldestWaitAt !== null && p.oldestWaitAt < than) return true;
    return false;
  }

  /** A connection of `from` was released idle or closed: every other pool's waiters look again. */
  wake(from: BudgetedPool): void {
    if (this.#pools.size < 2) return;
    for (const p of [...this.#pools]) if (p !== from && p.queueLength > 0) p.serveWaiters();
  }

  /** Kept for callers of the old name: a connection of `from` closed. */
  freed(from: BudgetedPool): void {
    this.wake(from);
  }
}
