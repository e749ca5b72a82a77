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
}

/**
 * Opens one TLS connection to a server, resuming a cached session when there is one.
 * Resolves after the handshake (and certificate verification) completed; rejects with
 * LH_CONNECT_FAILED / LH_CONNECT_TIMEOUT. New sessions (TLS 1.3 tickets arrive after the
 * handshake) are stored for the next connection of the same key.
 */
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
    });
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => opts.sessions.set(key, session));
    const timer = setTimeout(() => {
      fail(new LonghaulError('LH_CONNECT_TIMEOUT', `connect to ${opts.host}:${opts.port} timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    const onError = (err: Error) => {
      fail(new LonghaulError('LH_CONNECT_FAILED', `connect to ${opts.host}:${opts.port} failed: ${err.message}`, { cause: err }));
    };
    const fail = (err: LonghaulError) => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.on('error', () => {});
      socket.destroy();
      // A session that fails verification or handshake must not be offered again.
      opts.sessions.delete(key);
      reject(err);
    };
    socket.once('error', onError);
    let gotSession = false;
    socket.once('session', () => (gotSession = true));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      const result = { socket, resumed: socket.isSessionReused(), setupMs: performance.now() - started };
      if (!opts.awaitSession || gotSession || socket.getProtocol() !== 'TLSv1.3') return resolve(result);
      const wait = setTimeout(() => resolve(result), Math.min(1000, Math.max(50, result.setupMs)));
      socket.once('session', () => {
        clearTimeout(wait);
        resolve(result);
      });
    });
  });
}
