/**
 * What the proxy may know about one client connection, whatever the front engine: its id, how
 * many requests it has carried, and when it closes. Private backend connections (design "Pool
 * rules / Private connections") are tied to it, and reuse modes (`http-reuse`) look at whether a
 * request is the connection's first.
 *
 * Invariant: `closed` becomes true exactly once, and every onClose callback runs exactly once,
 * after the front has forgotten the socket (a callback registered after the close runs at once).
 */
export class ClientConnection {
  /** Requests dispatched on this connection so far, the current one included (1 = first request). */
  requests = 0;
  #closed = false;
  #closeCbs: Array<() => void> = [];

  constructor(readonly id: number) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `cb` once when the connection closes; returns a function that unregisters it. */
  onClose(cb: () => void): () => void {
    if (this.#closed) {
      cb();
      return () => {};
    }
    this.#closeCbs.push(cb);
    return () => {
      const i = this.#closeCbs.indexOf(cb);
      if (i >= 0) this.#closeCbs.splice(i, 1);
    };
  }

  /** The front saw the socket close. Callback errors are isolated by the caller's `onError`. */
  markClosed(onError: (err: unknown) => void = () => {}): void {
    if (this.#closed) return;
    this.#closed = true;
    const cbs = this.#closeCbs;
    this.#closeCbs = [];
    for (const cb of cbs) {
      try {
        cb();
      } catch (err) {
        onError(err);
      }
    }
  }
}
