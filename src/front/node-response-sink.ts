/**
 * The node engine's ResponseSink (one per request): writes the response head and body on a
 * node:http ServerResponse with its backpressure (`write()` + 'drain'), adds `Connection: close`
 * when the client connection must close, and reports the client going away exactly once.
 * Invariant: onAbort callbacks never run for a close the gateway caused itself (destroy()).
 */
import type { ServerResponse } from 'node:http';
import type { HeaderList, ResponseSink } from '../core/types.js';
import { runCallbacks } from '../core/run-callbacks.js';
import { reasonPhrase, responseHeadersToWrite, type FrontLog } from './front-common.js';

export class NodeSink implements ResponseSink {
  private startedFlag = false;
  private abortedFlag = false;
  private destroyedByUs = false;
  private abortCbs: Array<() => void> = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly forceClose: () => boolean,
    /** timeouts.client: how long a client may leave a blocked response write unread. */
    private readonly clientTimeoutMs: number,
    private readonly log: FrontLog,
  ) {
    res.once('close', () => {
      if (this.abortedFlag || res.writableFinished) return;
      this.abortedFlag = true;
      if (this.destroyedByUs) return;
      const cbs = this.abortCbs;
      this.abortCbs = [];
      runCallbacks(cbs, this.log, 'onAbort');
    });
  }

  get started(): boolean {
    return this.startedFlag;
  }
  get aborted(): boolean {
    return this.abortedFlag;
  }

  start(status: number, reason: string, headers: HeaderList, bodyLength: number | null, noBody: boolean): void {
    if (this.startedFlag) throw new Error('ResponseSink.start() called twice');
    this.startedFlag = true;
    if (this.abortedFlag) return;
    const { keep, invalid } = responseHeadersToWrite(headers);
    if (invalid.length > 0) this.log.warn({ headers: invalid }, 'dropped response headers with invalid name or value');
    const flat: string[] = [];
    for (const [k, v] of keep) flat.push(k, v);
    if (bodyLength !== null) flat.push('Content-Length', String(bodyLength));
    if (this.forceClose()) flat.push('Connection', 'close');
    this.res.writeHead(status, reasonPhrase(status, reason), flat);
    if (noBody) return;
    // Headers go out with the first body chunk; if none comes this turn, send them alone.
    setImmediate(() => {
      if (!this.abortedFlag && !this.res.headersSent && !this.res.writableEnded) this.res.flushHeaders();
    });
  }

  write(chunk: Buffer): boolean {
    if (!this.startedFlag) throw new Error('ResponseSink.write() before start()');
    if (this.abortedFlag || this.res.writableEnded) return true;
    const ok = this.res.write(chunk);
    if (!ok && this.clientTimeoutMs > 0) {
      // The client is not reading: it gets timeouts.client to catch up, then the connection is
      // cut (node destroys a socket whose 'timeout' nobody handles). Without this a client that
      // vanished behind a blocked write would keep its socket forever (node pauses reading).
      const socket = this.res.socket;
      if (socket) {
        socket.setTimeout(this.clientTimeoutMs);
        this.res.once('drain', () => socket.setTimeout(0));
      }
    }
    return ok;
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  end(): void {
    if (!this.startedFlag) throw new Error('ResponseSink.end() before start()');
    if (this.abortedFlag || this.res.writableEnded) return;
    this.res.end();
  }

  destroy(): void {
    if (this.abortedFlag) return;
    this.destroyedByUs = true;
    this.abortedFlag = true;
    this.res.destroy();
  }

  onAbort(cb: () => void): void {
    if (this.abortedFlag) queueMicrotask(cb);
    else this.abortCbs.push(cb);
  }
}
