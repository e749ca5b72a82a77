/**
 * The farm server's connections: accepted sockets, TLS handshakes (full vs resumed, SNI, client
 * certificate), who closed each connection, and the server's own idle close. Everything it
 * counts goes into one FarmStats object for the server's lifetime.
 */
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { zeroStats, type ConnectionRecord, type FarmStats } from './farm-stats.js';

export interface FarmConn {
  record: ConnectionRecord;
  socket: TLSSocket;
  idleTimer: NodeJS.Timeout | null;
  /** Requests whose response has not finished; the connection is idle only when 0. */
  inFlight: number;
  /** The server has decided to close (idle close or Connection: close sent). */
  closing: boolean;
  peerEndedFirst: boolean;
  resetByPeer: boolean;
}

/** After close_notify + FIN, the socket is destroyed if the peer has not closed within this grace. */
const CLOSE_GRACE_MS = 2000;

export class FarmConnections {
  /** Live counters; one object for the server's lifetime (resetStats mutates it in place). */
  readonly stats: FarmStats = zeroStats();
  readonly #conns = new Map<TLSSocket, FarmConn>();
  readonly #rawSockets = new Set<Socket>();
  #nextConnId = 1;
  #shuttingDown = false;

  /**
   * Follows the connections of `server`. `clientCerts`: the server requests client certificates.
   * `idleCloseMs` is read each time a connection becomes idle (behaviour changes apply live).
   */
  constructor(
    private readonly server: Server,
    clientCerts: boolean,
    private readonly idleCloseMs: () => number,
  ) {
    const stats = this.stats;
    server.on('connection', (raw: Socket) => {
      stats.connections++;
      this.#rawSockets.add(raw);
      raw.on('close', () => this.#rawSockets.delete(raw));
    });
    server.on('tlsClientError', () => {
      stats.handshakeErrors++;
    });

    // Prepended so that our socket listeners run before node:http's ('end' must see writableEnded
    // before http reacts to the peer's FIN by ending its side).
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      const resumed = socket.isSessionReused();
      const sni = typeof socket.servername === 'string' ? socket.servername : '';
      const peer = clientCerts ? socket.getPeerCertificate() : null;
      const cn = peer?.subject?.CN;
      const record: ConnectionRecord = {
        id: this.#nextConnId++,
        sni,
        resumed,
        clientCert: typeof cn === 'string' ? cn : null,
        requests: 0,
        closedBy: null,
      };
      const conn: FarmConn = { record, socket, idleTimer: null, inFlight: 0, closing: false, peerEndedFirst: false, resetByPeer: false };
      this.#conns.set(socket, conn);
      stats.handshakes++;
      if (resumed) stats.resumedHandshakes++;
      else stats.fullHandshakes++;
      stats.sniPerConnection.push(sni);
      stats.perConnection.push(record);
      stats.openConnections++;

      socket.on('end', () => {
        if (!socket.writableEnded && !conn.closing) conn.peerEndedFirst = true;
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!conn.closing && !socket.writableEnded && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) conn.resetByPeer = true;
      });
      socket.on('close', () => {
        this.disarmIdle(conn);
        this.#conns.delete(socket);
        stats.openConnections--;
        if (this.#shuttingDown) return;
        record.closedBy = conn.peerEndedFirst || conn.resetByPeer ? 'client' : 'server';
        if (record.closedBy === 'client') stats.connectionClosedByClient++;
        else stats.connectionClosedByServer++;
      });
      this.armIdle(conn);
    });
  }

  /** The handshaken connection of a request's socket. */
  get(socket: TLSSocket): FarmConn | undefined {
    return this.#conns.get(socket);
  }

  disarmIdle(conn: FarmConn): void {
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
  }

  armIdle(conn: FarmConn): void {
    this.disarmIdle(conn);
    if (conn.closing || conn.inFlight > 0) return;
    conn.idleTimer = setTimeout(() => this.#serverClose(conn), this.idleCloseMs());
    conn.idleTimer.unref();
  }

  /** close_notify + FIN now; destroy if the peer has not closed after the grace period. */
  #serverClose(conn: FarmConn): void {
    conn.closing = true;
    this.disarmIdle(conn);
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Zeroes the counters; records of still-open connections are kept with requests = 0. */
  resetStats(): void {
    const open = [...this.#conns.values()].map((c) => c.record);
    for (const r of open) r.requests = 0;
    Object.assign(this.stats, zeroStats(), { perConnection: open, openConnections: open.length });
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    this.#shuttingDown = true;
    const closed = new Promise<void>((resolveClose) => this.server.close(() => resolveClose()));
    for (const conn of this.#conns.values()) this.disarmIdle(conn);
    for (const s of this.#conns.keys()) s.destroy();
    for (const s of this.#rawSockets) s.destroy();
    return closed;
  }
}
