import type { HeaderList, ResponseSink } from '../../src/core/types.js';

/**
 * A ResponseSink that keeps what it is given, for tests of the proxy below the front. It can
 * simulate a slow client (write() returning false until drain() is called) and an abort.
 */
export class CollectingSink implements ResponseSink {
  status = 0;
  headers: HeaderList = [];
  bodyLength: number | null = null;
  chunks: Buffer[] = [];
  ended = false;
  destroyed = false;
  aborted = false;
  started = false;
  slow = false;
  #drain: (() => void) | null = null;
  #abort: (() => void) | null = null;

  start(status: number, _reason: string, headers: HeaderList, bodyLength: number | null): void {
    this.started = true;
    this.status = status;
    this.headers = headers;
    this.bodyLength = bodyLength;
  }
  write(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return !this.slow;
  }
  onDrain(cb: () => void): void {
    this.#drain = cb;
  }
  drain(): void {
    const d = this.#drain;
    this.#drain = null;
    d?.();
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  onAbort(cb: () => void): void {
    this.#abort = cb;
  }
  abort(): void {
    this.aborted = true;
    this.#abort?.();
  }
  body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
