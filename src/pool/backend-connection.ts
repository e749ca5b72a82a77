import type tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { ClientConnection } from '../core/client-connection.js';
import { Http1Codec, type SocketReadBuffer } from './http1-codec.js';

/**
 * One pooled TLS keep-alive connection to one server, with an explicit state (Envoy's model).
 *
 *   connecting ─► idle ◄─► busy ─► closed
 *                  │         │        ▲
 *                  └─► draining ──────┘
 *
 * Every state change goes through transition(). Invariants:
 *  - a connection is `idle` only after a cleanly framed exchange (Pingora's rule): the response
 *    ended, the server did not ask to close, and the socket is still open;
 *  - an `idle` connection that sees a byte, FIN or error is closed (the codec reads the socket
 *    from attach() on and reports any of them outside an exchange; our 'close' listener turns
 *    the destroyed socket into `closed`);
 *  - `closed` is terminal, and the pool learns about it exactly once, through onState.
 *
 * The HTTP/1.1 codec of this one socket is ours (http1-codec.ts, issue 14 item 1): it owns the
 * reuse verdict and can never open a connection behind the pool's back.
 */
export type ConnState = 'connecting' | 'idle' | 'busy' | 'draining' | 'closed';

export interface ConnectionInfo {
  resumed: boolean;
  setupMs: number;
  sni: string | null;
}

export class BackendConnection {
  static #nextId = 1;
  readonly id = BackendConnection.#nextId++;
  readonly createdAt = performance.now();
  state: ConnState = 'connecting';
  socket: tls.TLSSocket | null = null;
  /** The HTTP/1.1 codec on `socket`, from attach() on. */
  codec: Http1Codec | null = null;
  info: ConnectionInfo | null = null;
  /** performance.now() of the end of the last exchange (or of the handshake). */
  lastUsedAt = this.createdAt;
  /** performance.now() when the current lease began. */
  leasedAt = 0;
  /** Completed exchanges. */
  uses = 0;
  /**
   * The server has echoed our X-Request-Id on this connection (exchange.ts, `request-id-check`):
   * from then on a response carrying another request's id proves the connection out of step.
   */
  echoesRequestId = false;
  /** Server's `Keep-Alive: timeout=N` hint in ms, learned from the last response. */
  keepAliveHintMs: number | null = null;
  closeReason = '';
  /** The one client connection this connection is private to (design "Private connections"), or null: shared. */
  owner: ClientConnection | null = null;
  /** Set when the pool decided to retire it (so its counters are not counted twice). */
  retiredByPool = false;
  #closeTimer: NodeJS.Timeout | null = null;
  /** Idle deadline (the pool's idle purge); cleared by any transition out of idle. */
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly onState: (conn: BackendConnection, from: ConnState, to: ConnState) => void) {}

  /** Puts the codec on a connected socket (opened with `reader` as its onread, if given); the pool then moves it to idle or busy. */
  attach(socket: tls.TLSSocket, info: ConnectionInfo, reader?: SocketReadBuffer): void {
    this.socket = socket;
    this.info = info;
    // Pingora's rule from the moment the connection is ready (issue 11 item 5): the codec reads
    // the socket from now on, and a byte, FIN or error outside an exchange (also before the
    // first request) retires the connection.
    this.codec = new Http1Codec(socket, {
      onIdleClose: (reason) => {
        this.closeReason ||= reason;
        this.transition('closed', reason);
      },
    }, reader);
    if (reader && reader.early > 0) this.closeReason ||= 'server sent bytes on an unused connection';
    socket.on('close', () => this.transition('closed', this.closeReason || 'socket closed'));
    socket.on('error', (err) => {
      this.closeReason ||= `socket error: ${err.message}`;
    });
    socket.on('end', () => {
      this.closeReason ||= this.state === 'idle' ? 'server closed idle connection' : 'server closed';
    });
    this.lastUsedAt = performance.now();
    // Closed between the handshake and now (its 'close' already fired): never hand it out.
    if (socket.destroyed) this.transition('closed', this.closeReason || 'closed right after the handshake');
  }

  /**
   * The one place where state changes. Returns false for a refused transition (closed is terminal).
   */
  transition(to: ConnState, reason: string): boolean {
    const from = this.state;
    if (from === to || from === 'closed') return false;
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    if (to === 'closed') {
      this.closeReason ||= reason;
      if (this.#closeTimer) clearTimeout(this.#closeTimer);
      this.state = 'closed';
      const socket = this.socket;
      if (socket && !socket.destroyed) socket.destroy();
      this.codec?.close();
    } else {
      this.state = to;
    }
    this.onState(this, from, to);
    return true;
  }

  /**
   * Retire gracefully: close_notify + FIN (`end()`), then destroy after a grace period if the
   * server has not closed its side. Never RST a healthy connection (background 003).
   */
  retire(reason: string, graceMs = 2000): void {
    if (this.state === 'closed') return;
    this.closeReason ||= reason;
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      this.transition('closed', reason);
      return;
    }
    if (this.state !== 'draining') this.transition('draining', reason);
    socket.end();
    this.#closeTimer = setTimeout(() => this.transition('closed', reason), graceMs);
    this.#closeTimer.unref();
  }

  /** While idle: run `onExpire` after `ms` unless the connection leaves idle first. */
  armIdleDeadline(ms: number, onExpire: () => void): void {
    if (this.state !== 'idle') return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.state === 'idle') onExpire();
    }, ms);
    this.#idleTimer.unref();
  }

  get alive(): boolean {
    const s = this.socket;
    return !!s && !s.destroyed && !s.readableEnded && !s.writableEnded && this.state !== 'closed';
  }
}
