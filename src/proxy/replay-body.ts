import type { RequestBody } from '../core/types.js';

/**
 * A client request body that can be sent more than once, as long as it fits in `limit` bytes
 * (farm `replay-buffer`). The client's body is read once, through one shared iterator; each
 * attempt replays what was buffered and then continues reading. Once more than `limit` bytes
 * were read the buffer is dropped and `replayable` turns false for good (design retry table:
 * "request body larger than replay-buffer already streamed: never retry").
 */
export class ReplayBody {
  readonly length: number | null;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #read = 0;
  #done = false;
  #overflow = false;
  #pull: Promise<void> | null = null;
  readonly #source: AsyncIterator<Buffer>;
  readonly #limit: number;

  constructor(body: RequestBody, limit: number) {
    this.length = body.length;
    this.#source = body[Symbol.asyncIterator]();
    this.#limit = limit;
    // A declared length above the limit can never be replayed: do not buffer any of it.
    if (body.length !== null && body.length > limit) this.#overflow = true;
  }

  /** Bytes read from the client so far. */
  get bytesRead(): number {
    return this.#read;
  }

  /** A new attempt can still send the whole body from the start. */
  get replayable(): boolean {
    return !this.#overflow || this.#read === 0;
  }

  /** The body for one attempt. Only one attempt iterates at a time (the previous one failed). */
  attempt(): AsyncIterable<Buffer> {
    if (!this.replayable) throw new Error('request body is no longer replayable');
    const next = () => this.#next();
    const state = () => ({ chunks: this.#chunks, overflow: this.#overflow });
    return {
      async *[Symbol.asyncIterator]() {
        let i = 0;
        for (;;) {
          const s = state();
          if (!s.overflow && i < s.chunks.length) {
            yield s.chunks[i++]!;
            continue;
          }
          const chunk = await next();
          if (chunk === null) return;
          // While under the limit the chunk was appended at index i.
          if (!state().overflow) i++;
          yield chunk;
        }
      },
    };
  }

  /** Reads one more chunk from the client; buffers it while under the limit. */
  async #next(): Promise<Buffer | null> {
    while (this.#pull) await this.#pull;
    if (this.#done) return null;
    let result: IteratorResult<Buffer>;
    const p = this.#source.next().then((r) => {
      result = r;
    });
    this.#pull = p;
    try {
      await p;
    } finally {
      this.#pull = null;
    }
    const r = result!;
    if (r.done) {
      this.#done = true;
      return null;
    }
    this.#read += r.value.length;
    if (!this.#overflow) {
      if (this.#buffered + r.value.length <= this.#limit) {
        this.#chunks.push(r.value);
        this.#buffered += r.value.length;
      } else {
        this.#overflow = true;
        this.#chunks = [];
        this.#buffered = 0;
      }
    }
    return r.value;
  }
}
