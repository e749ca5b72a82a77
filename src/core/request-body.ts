import { LonghaulError } from './errors.js';

/**
 * A client request body: the ONE primitive between a front (either engine) and the proxy
 * (issue 11 items 1, 9, 10). It replaces three hand-written iterators (PushedBody, NodeBody,
 * ReplayBody) whose hand-over on retry lost and doubled chunks.
 *
 * Invariants:
 *  - one producer: the front push()es chunks as they arrive and end()s or fail()s the body;
 *    above `highWater` unread bytes it pauses the client (`control.pause`) and resumes it below
 *    `lowWater`, so the bytes held per exchange stay bounded (`held` ≤ retained prefix +
 *    highWater + one chunk) whatever the speeds on either side;
 *  - one consumer at a time: reader() hands out a BodyReader and invalidates the previous one
 *    at once — a pending next() of the old reader is rejected (LH_BODY_READER_CLOSED) and it can
 *    never take a chunk again; the new reader starts at byte 0;
 *  - retained prefix: while the body is within `replayLimit` (farm `replay-buffer`) every
 *    consumed chunk is kept, so a new reader replays the exact bytes; past it, consumed chunks
 *    are dropped and `replayable` turns false for good (design retry table);
 *  - a client that leaves the gateway waiting (ready to take bytes, client not paused by us)
 *    for a whole `rateWindowMs` without sending at least `minRate` bytes/s over it fails the
 *    body with LH_CLIENT_SLOW_UPLOAD (issue 11 item 9; time spent paused by us never counts).
 */
export interface BodyControl {
  /** Stop reading from the client socket (back-pressure). */
  pause(): void;
  /** Read from the client socket again. */
  resume(): void;
  /** The body failed by its own rule (LH_CLIENT_SLOW_UPLOAD): the front must close the connection after its answer. */
  stalled?(err: LonghaulError): void;
}

export interface BodyLimits {
  /** Consumed bytes are kept for a replay while the body is no longer than this (0: never). */
  replayLimit?: number;
  /** Unread bytes above which the client is paused. */
  highWater?: number;
}

export interface UploadRate {
  /** Window over which the client's progress is checked, ms (listener timeouts.http-request); 0: off. */
  windowMs: number;
  /** Minimum bytes per second over a window (listener min-upload-rate); at least 1 byte per window. */
  minRate: number;
}

/** Default unread bytes held before the client is paused. */
export const BODY_HIGH_WATER = 256 * 1024;

/** Largest number of bytes a RequestBody held at once, process-wide (tests, /stats): bounded memory per exchange. */
export const bodyMemory = { highWaterMark: 0, held: 0 };

interface BufferWaiter {
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const DONE: IteratorResult<Buffer> = { value: undefined, done: true };
const noop = (): void => {};

export class RequestBody {
  /** Declared Content-Length, or null when the client used chunked framing. */
  readonly length: number | null;
  /** Bytes received from the client so far. */
  received = 0;
  /** Largest number of bytes this body held at once. */
  highWaterMark = 0;

  #chunks: Buffer[] = [];
  /** Absolute index of #chunks[0]. */
  #base = 0;
  #held = 0;
  /** Bytes of held chunks the current reader already consumed (retained for replay). */
  #consumedHeld = 0;
  #dropped = false;
  #ended = false;
  #failure: Error | null = null;
  #discarding = false;
  #paused = false;
  #replayLimit = 0;
  #highWater = BODY_HIGH_WATER;
  #reader: BodyReader | null = null;
  #bufferWaiters: BufferWaiter[] = [];
  #rate: UploadRate | null = null;
  #rateTimer: NodeJS.Timeout | null = null;
  #windowStart = 0;

  constructor(
    length: number | null,
    private readonly control: BodyControl,
    rate?: UploadRate,
  ) {
    this.length = length;
    if (rate && rate.windowMs > 0) {
      this.#rate = rate;
      this.#armRate();
    }
  }

  /** Set by the proxy from the farm config before the first reader. */
  configure(limits: BodyLimits): void {
    if (limits.replayLimit !== undefined) this.#replayLimit = limits.replayLimit;
    if (limits.highWater !== undefined) this.#highWater = Math.max(1, limits.highWater);
    this.#flow();
  }

  get complete(): boolean {
    return this.#ended;
  }
  get failed(): Error | null {
    return this.#failure;
  }
  /** Bytes held in memory now (retained prefix + unread). */
  get held(): number {
    return this.#held;
  }
  /** A new reader can still send the whole body from its first byte. */
  get replayable(): boolean {
    return !this.#dropped && !this.#discarding && !this.#failure;
  }
  /** discard() was called: readers end early, the body never reaches a server whole. */
  get discarded(): boolean {
    return this.#discarding;
  }
  /** The client is paused by back-pressure right now. */
  get paused(): boolean {
    return this.#paused;
  }

  // ----- producer side (the front) -----

  push(chunk: Buffer): void {
    if (this.#ended || this.#failure || chunk.length === 0) return;
    this.received += chunk.length;
    if (this.#discarding) return;
    this.#chunks.push(chunk);
    this.#addHeld(chunk.length);
    this.#wakeBufferWaiters();
    this.#reader?._wake();
    this.#flow();
  }

  end(): void {
    if (this.#ended || this.#failure) return;
    this.#ended = true;
    this.#stopRate();
    this.#wakeBufferWaiters();
    this.#reader?._wake();
  }

  fail(err: Error): void {
    if (this.#ended || this.#failure) return;
    this.#failure = err;
    this.#stopRate();
    this.#clear();
    for (const w of this.#bufferWaiters.splice(0)) w.reject(err);
    this.#reader?._wake();
  }

  /** Drop everything held and everything still to come; never pause the client again (the request still reaches its end on the wire). */
  discard(): void {
    if (this.#discarding) return;
    this.#discarding = true;
    this.#stopRate();
    this.#clear();
    if (this.#paused) {
      this.#paused = false;
      this.control.resume();
    }
    this.#wakeBufferWaiters();
    this.#reader?._wake();
  }

  // ----- consumer side (one attempt at a time) -----

  /** Resolves once `bytes` were received, or the body is complete; rejects if it fails (issue 11 item 9: request buffering). */
  whenBuffered(bytes: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.received >= bytes || this.#ended || this.#discarding) return Promise.resolve();
    return new Promise((resolve, reject) => this.#bufferWaiters.push({ bytes, resolve, reject }));
  }

  /** The body for one attempt, from its first byte. The previous reader is closed for good. */
  reader(): BodyReader {
    if (!this.replayable) throw new LonghaulError('LH_BODY_TOO_LARGE_TO_REPLAY', 'request body is no longer replayable');
    this.#reader?._close();
    this.#consumedHeld = 0;
    const r = new BodyReader(this, this.#base);
    this.#reader = r;
    this.#flow();
    return r;
  }

  /** Iterating the body is reading it with a new reader (tests, simple consumers). */
  [Symbol.asyncIterator](): BodyReader {
    return this.reader();
  }

  /** @internal the next chunk for reader `r` at absolute index `pos`, or null to wait. */
  _take(r: BodyReader, pos: number): { chunk?: Buffer; done?: true; error?: Error } | null {
    if (this.#reader !== r) return { error: readerClosed() };
    if (this.#failure) return { error: this.#failure };
    if (this.#discarding) return { done: true };
    const i = pos - this.#base;
    if (i < this.#chunks.length) {
      const chunk = this.#chunks[i]!;
      if (this.#retaining()) {
        this.#consumedHeld += chunk.length;
      } else {
        // Past the replay limit: drop the consumed prefix; no reader can start at 0 again.
        const gone = this.#chunks.splice(0, i + 1);
        this.#base += gone.length;
        let n = 0;
        for (const c of gone) n += c.length;
        this.#addHeld(-n);
        this.#consumedHeld = 0;
        this.#dropped = true;
      }
      this.#flow();
      return { chunk };
    }
    if (this.#ended) return { done: true };
    return null;
  }

  /** @internal a reader stopped early (return()): it no longer owns the body; nothing is dropped. */
  _release(r: BodyReader): void {
    if (this.#reader === r) {
      this.#reader = null;
      this.#consumedHeld = 0;
      this.#flow();
    }
  }

  #retaining(): boolean {
    const limit = this.#replayLimit;
    return !this.#dropped && this.received <= limit && (this.length === null || this.length <= limit);
  }

  #addHeld(n: number): void {
    this.#held += n;
    bodyMemory.held += n;
    if (this.#held > this.highWaterMark) this.highWaterMark = this.#held;
    if (bodyMemory.held > bodyMemory.highWaterMark) bodyMemory.highWaterMark = bodyMemory.held;
  }

  #clear(): void {
    this.#chunks = [];
    this.#addHeld(-this.#held);
    this.#consumedHeld = 0;
    this.#dropped = true;
  }

  /** Pause above highWater unread bytes, resume at half of it. */
  #flow(): void {
    if (this.#discarding || this.#failure || this.#ended) {
      if (this.#paused && !this.#failure) {
        this.#paused = false;
        this.control.resume();
      }
      return;
    }
    const unread = this.#held - this.#consumedHeld;
    if (!this.#paused && unread > this.#highWater) {
      this.#paused = true;
      this.#stopRate();
      this.control.pause();
    } else if (this.#paused && unread <= this.#highWater / 2) {
      this.#paused = false;
      this.control.resume();
      this.#armRate();
    }
  }

  #wakeBufferWaiters(): void {
    if (this.#bufferWaiters.length === 0) return;
    const keep: BufferWaiter[] = [];
    for (const w of this.#bufferWaiters) {
      if (this.received >= w.bytes || this.#ended || this.#discarding) w.resolve();
      else keep.push(w);
    }
    this.#bufferWaiters = keep;
  }

  #armRate(): void {
    const rate = this.#rate;
    if (!rate || this.#rateTimer || this.#ended || this.#failure || this.#discarding || this.#paused) return;
    this.#windowStart = this.received;
    this.#rateTimer = setTimeout(() => {
      this.#rateTimer = null;
      const got = this.received - this.#windowStart;
      const need = Math.max(1, Math.floor((rate.minRate * rate.windowMs) / 1000));
      if (got < need) {
        const err = new LonghaulError('LH_CLIENT_SLOW_UPLOAD', `client sent ${got} body bytes in ${rate.windowMs} ms (minimum ${need})`);
        this.fail(err);
        this.control.stalled?.(err);
        return;
      }
      this.#armRate();
    }, rate.windowMs);
    this.#rateTimer.unref();
  }

  #stopRate(): void {
    if (this.#rateTimer) clearTimeout(this.#rateTimer);
    this.#rateTimer = null;
  }
}

function readerClosed(): LonghaulError {
  return new LonghaulError('LH_BODY_READER_CLOSED', 'this attempt no longer owns the request body (a retry took it over)');
}

/**
 * One attempt's view of a RequestBody: an async iterator from byte 0. At most one next() is
 * pending at a time. `onWait(true)` is called when next() has to wait for the client and
 * `onWait(false)` when a chunk arrives (exchange.ts stops the server timer meanwhile: the
 * server is not silent, the client is, issue 11 item 2).
 */
export class BodyReader implements AsyncIterableIterator<Buffer> {
  #pos: number;
  #closed = false;
  #waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void } | null = null;
  onWait: (waiting: boolean) => void = noop;
  /** This reader handed out the body's end: the whole body went to its attempt. */
  done = false;

  constructor(
    private readonly body: RequestBody,
    start: number,
  ) {
    this.#pos = start;
  }

  get length(): number | null {
    return this.body.length;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.#closed) return Promise.reject(readerClosed());
    if (this.#waiter) return Promise.reject(new Error('concurrent next() on a request body reader'));
    const r = this.#poll();
    if (r) return r;
    this.onWait(true);
    const p = new Promise<IteratorResult<Buffer>>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    // A superseded attempt may have stopped awaiting: its rejection must never be "unhandled".
    p.catch(noop);
    return p;
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.#closed = true;
    this.#waiter?.resolve(DONE);
    this.#waiter = null;
    this.body._release(this);
    return Promise.resolve(DONE);
  }

  #poll(): Promise<IteratorResult<Buffer>> | null {
    const t = this.body._take(this, this.#pos);
    if (!t) return null;
    if (t.error) return Promise.reject(t.error);
    if (t.done) {
      this.done = !this.body.discarded;
      return Promise.resolve(DONE);
    }
    this.#pos++;
    return Promise.resolve({ value: t.chunk!, done: false });
  }

  /** @internal the body changed: settle a pending next(). */
  _wake(): void {
    const w = this.#waiter;
    if (!w) return;
    const t = this.body._take(this, this.#pos);
    if (!t) return;
    this.#waiter = null;
    this.onWait(false);
    if (t.error) w.reject(t.error);
    else if (t.done) {
      this.done = !this.body.discarded;
      w.resolve(DONE);
    }
    else {
      this.#pos++;
      w.resolve({ value: t.chunk!, done: false });
    }
  }

  /** @internal a newer reader took over: a pending next() fails, none will succeed again. */
  _close(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(readerClosed());
  }
}
