/** What warming a pool first came to (ServerPool.warmed). */
export type WarmOutcome = 'warm' | 'failed' | 'none';

/**
 * Keeps `min-idle` connections warm (design "Sizing"): opens them one after another — never in
 * parallel — so that every connection after the first resumes the TLS session the first one
 * got. After a failure it backs off (1 s, 2 s … 30 s) instead of hammering a server that is down.
 * Invariant: at most one warm-up sequence runs at a time.
 */
export class WarmUp {
  #running = false;
  #failures = 0;
  /** Settles with the first warm-up sequence's first outcome (see `firstOutcome`). */
  #first: { promise: Promise<boolean>; resolve: (ok: boolean) => void } | null = null;
  #firstOk: boolean | null = null;

  constructor(
    /** True while more warm connections are wanted (and allowed by max-conn). */
    private readonly wanted: () => boolean,
    /** Opens one connection and parks it idle; rejects when the server cannot be reached. */
    private readonly openOne: () => Promise<void>,
  ) {}

  /**
   * The first outcome of warming: true once a connection was opened (or none was wanted), false
   * once the first attempt failed. The gateway waits for it before it listens (gateway.ts), so
   * the first client request finds a warm connection.
   */
  firstOutcome(): Promise<boolean> {
    if (this.#firstOk !== null) return Promise.resolve(this.#firstOk);
    this.#first ??= deferred();
    return this.#first.promise;
  }

  #settleFirst(ok: boolean): void {
    if (this.#firstOk !== null) return;
    this.#firstOk = ok;
    this.#first?.resolve(ok);
    this.#first = null;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const step = (): void => {
      if (!this.wanted()) {
        this.#running = false;
        this.#settleFirst(true);
        return;
      }
      this.openOne().then(
        () => {
          this.#failures = 0;
          this.#settleFirst(true);
          step();
        },
        () => {
          this.#settleFirst(false);
          this.#failures++;
          const t = setTimeout(
            () => {
              this.#running = false;
              this.start();
            },
            Math.min(30_000, 1000 * 2 ** Math.min(5, this.#failures - 1)),
          );
          t.unref();
        },
      );
    };
    step();
  }
}

function deferred(): { promise: Promise<boolean>; resolve: (ok: boolean) => void } {
  let resolve!: (ok: boolean) => void;
  const promise = new Promise<boolean>((r) => (resolve = r));
  return { promise, resolve };
}
