/** What the budget needs of a pool. */
export interface BudgetedPool {
  readonly openCount: number;
  readonly idleCount: number;
  readonly queueLength: number;
  /** Retire the least recently used idle connection; false when there is none. */
  giveUpIdle(): boolean;
  /** Capacity was freed elsewhere: serve queued requests if possible. */
  serveWaiters(): void;
}

/**
 * `max-conn` is per *server* (design "Sizing"), while connections live in one pool per key: with
 * `sni: host` a server has a pool per name. The budget makes every pool of a server count
 * against one limit: a pool may open only while the server's total is below max-conn; when it is
 * full, an idle connection of another key is given up for a request that is waiting; and a
 * connection that closes in one pool lets the others' queues move.
 */
export class ServerBudget {
  readonly #pools = new Set<BudgetedPool>();

  constructor(public max: number) {}

  add(pool: BudgetedPool): void {
    this.#pools.add(pool);
  }

  get open(): number {
    let n = 0;
    for (const p of this.#pools) n += p.openCount;
    return n;
  }

  hasRoom(): boolean {
    return this.open < this.max;
  }

  /** Make room for `pool` by closing an idle connection of another pool (LRU of the first that has one). */
  reclaimFor(pool: BudgetedPool): boolean {
    for (const p of this.#pools) if (p !== pool && p.idleCount > 0 && p.giveUpIdle()) return true;
    return false;
  }

  /** A connection of `from` closed: the other pools' waiters may now get one. */
  freed(from: BudgetedPool): void {
    if (this.#pools.size < 2) return;
    for (const p of this.#pools) if (p !== from && p.queueLength > 0) p.serveWaiters();
  }
}
