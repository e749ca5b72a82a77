/**
 * Keeps `min-idle` connections warm (design "Sizing"): opens them one after another — never in
 * parallel — so that every connection after the first resumes the TLS session the first one
 * got. After a failure it backs off (1 s, 2 s … 30 s) instead of hammering a server that is down.
 * Invariant: at most one warm-up sequence runs at a time.
 */
export class WarmUp {
  #running = false;
  #failures = 0;

  constructor(
    /** True while more warm connections are wanted (and allowed by max-conn). */
    private readonly wanted: () => boolean,
    /** Opens one connection and parks it idle; rejects when the server cannot be reached. */
    private readonly openOne: () => Promise<void>,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const step = (): void => {
      if (!this.wanted()) {
        this.#running = false;
        return;
      }
      this.openOne().then(
        () => {
          this.#failures = 0;
          step();
        },
        () => {
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
