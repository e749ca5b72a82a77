import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { LonghaulError } from '../core/errors.js';
import type { FarmTls } from './farm-tls.js';
import { TlsSessionCache } from './tls-session-cache.js';

export interface TlsConnectResult {
  socket: tls.TLSSocket;
  resumed: boolean;
  /** TCP connect + TLS handshake, ms. */
  setupMs: number;
}

export interface TlsConnectOptions {
  host: string;
  port: number;
  sni: string | null;
  farmTls: FarmTls;
  sessions: TlsSessionCache;
  timeoutMs: number;
  /**
   * Resolve only once a resumable session arrived (TLS 1.3 sends tickets after the handshake),
   * so that the next connection of the key resumes. Used when opening connections one after
   * another (min-idle warm-up); waits at most about one setup time.
   */
  awaitSession?: boolean;
  /**
   * Node's `onread` (net.Socket kBuffer mode): incoming cleartext goes to `callback` in one
   * reused buffer instead of 'data' events (the backend codec, pool/http1-codec.ts, issue 14).
   */
  onread?: { buffer: Buffer; callback: (nread: number, buf: Uint8Array) => boolean };
}

/**
 * Opens one TLS connection to a server, resuming a cached session when there is one.
 * Resolves after the handshake (and certificate verification) completed; rejects with
 * LH_CONNECT_FAILED / LH_CONNECT_TIMEOUT. New sessions (TLS 1.3 tickets arrive after the
 * handshake) are stored for the next connection of the same key.
 */
/**
 * The TCP connection was made and the TLS handshake (or certificate verification) failed: code
 * LH_CONNECT_FAILED, told apart by class. With `sni: host` this is how a name the server has no
 * certificate for shows (issue 11 item 3): the pool counts it against the name, not the server.
 */
export class TlsHandshakeError extends LonghaulError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LH_CONNECT_FAILED', message, options);
    this.name = 'TlsHandshakeError';
  }
}

export function connectTls(opts: TlsConnectOptions): Promise<TlsConnectResult> {
  const key = TlsSessionCache.key(opts.host, opts.port, opts.sni);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      servername: opts.sni ?? undefined,
      secureContext: opts.farmTls.context,
      rejectUnauthorized: opts.farmTls.verify,
      session: opts.sessions.get(key),
      ALPNProtocols: ['http/1.1'],
      // checkServerIdentity needs a name: with no SNI, verify against the address we dialled.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(opts.sni ?? opts.host, cert),
      // Not in @types/node's tls.ConnectionOptions, honoured by tls.connect (net.Socket option).
      ...(opts.onread ? ({ onread: opts.onread } as object) : {}),
    });
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => opts.sessions.set(key, session));
    const timer = setTimeout(() => {
      fail(new LonghaulError('LH_CONNECT_TIMEOUT', `connect to ${opts.host}:${opts.port} timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    let settled = false;
    let tcpConnected = false;
    socket.once('connect', () => (tcpConnected = true));
    // One error listener for the socket's whole life (design "Faults": no uncaught exception):
    // before the result is handed out it fails the connect; afterwards (the TLS 1.3 ticket wait,
    // issue 11 item 4, and every later moment) the owner's own listeners see the error and the
    // socket's 'close'; this one only keeps an `error` event from ever being unhandled.
    socket.on('error', (err: Error) => {
      if (settled) return;
      if (tcpConnected) fail(new TlsHandshakeError(`TLS handshake with ${opts.host}:${opts.port} failed: ${err.message}`, { cause: err }));
      else fail(new LonghaulError('LH_CONNECT_FAILED', `connect to ${opts.host}:${opts.port} failed: ${err.message}`, { cause: err }));
    });
    const fail = (err: LonghaulError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      // A session that fails verification or handshake must not be offered again.
      opts.sessions.delete(key);
      reject(err);
    };
    const succeed = (result: TlsConnectResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    let gotSession = false;
    socket.once('session', () => (gotSession = true));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result = { socket, resumed: socket.isSessionReused(), setupMs: performance.now() - started };
      if (!opts.awaitSession || gotSession || socket.getProtocol() !== 'TLSv1.3') return succeed(result);
      // Waiting for the ticket: a reset or FIN now fails this connect (the socket is dead before
      // anyone used it), instead of handing out a closed socket.
      const wait = setTimeout(() => succeed(result), Math.min(1000, Math.max(50, result.setupMs)));
      const onSession = (): void => {
        clearTimeout(wait);
        socket.removeListener('close', onClose);
        succeed(result);
      };
      const onClose = (): void => {
        clearTimeout(wait);
        socket.removeListener('session', onSession);
        fail(new LonghaulError('LH_CONNECT_FAILED', `connection to ${opts.host}:${opts.port} closed right after the handshake`));
      };
      socket.once('session', onSession);
      socket.once('close', onClose);
    });
  });
}
