import type { LonghaulError } from '../core/errors.js';
import type { BackendConnection } from './backend-connection.js';
import type { Http1Handler } from './http1-codec.js';

export interface ProbeRequest {
  method: string;
  path: string;
  /** Flat [name, value, …], Host included. */
  headers: string[];
  /** Response body bytes read (and dropped) before the connection is given up instead. */
  bodyLimit: number;
  /** Whole exchange, ms. */
  timeoutMs: number;
}

export interface ProbeResult {
  /** Final status, or null when none arrived. */
  status: number | null;
  /** Why the exchange did not end cleanly (the connection is then closed), or null. */
  error: Error | null;
  timedOut: boolean;
  /** The connection may carry another exchange (codec's verdict). */
  reusable: boolean;
}

/**
 * One bodiless request on an idle connection, its response body read and dropped: the health
 * check's exchange (balancer/health-check.ts), on the same codec as traffic (http1-codec.ts).
 */
export function probeExchange(conn: BackendConnection, req: ProbeRequest): Promise<ProbeResult> {
  return new Promise((resolve) => new Probe(conn, req, resolve).start());
}

class Probe implements Http1Handler {
  #status: number | null = null;
  #read = 0;
  #done = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly conn: BackendConnection,
    private readonly req: ProbeRequest,
    private readonly resolve: (r: ProbeResult) => void,
  ) {}

  start(): void {
    const codec = this.conn.codec;
    if (!codec) return this.#finish(new Error('connection has no codec'), false);
    this.#timer = setTimeout(() => this.#abort(`timed out after ${this.req.timeoutMs} ms`, true), this.req.timeoutMs);
    this.#timer.unref();
    try {
      codec.start({ method: this.req.method, path: this.req.path, headers: this.req.headers, body: null }, this);
    } catch (err) {
      this.#finish(err as Error, false);
    }
  }

  #abort(message: string, timedOut: boolean): void {
    if (this.#done) return;
    this.conn.codec?.abort(message);
    this.#finish(new Error(message), timedOut);
  }

  #finish(error: Error | null, timedOut: boolean): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.resolve({ status: this.#status, error, timedOut, reusable: error === null && !!this.conn.codec?.reusable });
  }

  onActivity(): void {}

  onResponseHead(status: number): void {
    this.#status = status;
  }

  onResponseData(chunk: Buffer): boolean {
    this.#read += chunk.length;
    if (this.#read > this.req.bodyLimit) this.#abort(`health check response body over ${this.req.bodyLimit} bytes`, false);
    return true;
  }

  onResponseEnd(): void {
    this.#finish(null, false);
  }

  onError(err: LonghaulError): void {
    this.#finish(err, false);
  }
}
