/**
 * The client side of the gateway: one TLS listener per `listeners[]` entry. The front turns each
 * client request into a `ProxyRequest` + `ResponseSink` (src/core/types.ts) and hands them to a
 * `RequestHandler`; it never sees backend connections.
 *
 * Two engines behind one contract:
 *   - `node` (default, issue 15): node:https with the strict llhttp parser: HTTP/1.0 and 1.1,
 *     pipelining, chunk extensions, trailers, header bytes kept;
 *   - `uws` (opt-in): uWebSockets.js (@based/uws 6.0.1 = uWS.js 20.51), faster per connection;
 *     the gaps JS can close are closed in src/front/uws-listener.ts, the others (in uWS's C++
 *     parser) are listed in README "Front engines" and warned about by `check`.
 */
import type { ListenerConfig } from '../config/config-types.js';
import type { RequestHandler } from '../core/types.js';
import { loadListenerCerts, type ListenerCerts } from '../tls/listener-certs.js';
import { silentFrontLog, type FrontLog, type ListenerCounters } from './front-common.js';

export type { FrontLog } from './front-common.js';

export interface FrontListener {
  readonly name: string;
  /** The bound port (useful with `bind: …:0`). */
  readonly port: number;
  /**
   * Stop accepting, close idle keep-alive client connections at once; connections with a request
   * in flight are closed when their response is done (their response carries `Connection:
   * close`), bounded by `graceMs` (default 10 s), then forced.
   */
  close(graceMs?: number): Promise<void>;
  /** connections = client connections open now; requests / rejected = totals since start. */
  stats(): ListenerCounters;
  /** The certificates served now (default and SNI). */
  certificates(): ListenerCerts;
  /**
   * Serve `certs` (a complete, checked set: loadListenerCerts) to NEW connections from now on;
   * open connections keep their session and go on being served.
   */
  reloadCertificates(certs: ListenerCerts): void;
  /**
   * The listening socket's descriptor, for a handover to the next process (issue 12 item 9,
   * src/main/listener-handover.ts); null when the engine does not expose it (uws) or it is closed.
   */
  listenFd(): number | null;
}

/** `certs`: already loaded and checked (the gateway does, with key paths); default: loaded here. */
export async function startFrontListener(
  cfg: ListenerConfig,
  handler: RequestHandler,
  log: FrontLog = silentFrontLog,
  certs: ListenerCerts = loadListenerCerts(cfg, `listener ${cfg.name}: tls`),
  /** `run --reuse-port` (issue 12 item 9): SO_REUSEPORT, to share the port with the next process during a handover. */
  reusePort = false,
  /** A listening socket inherited from the previous process (listener-handover.ts): listen on it instead of binding. Engine node only. */
  inheritedFd?: number,
): Promise<FrontListener> {
  if (cfg.engine === 'node') {
    const { startNodeListener } = await import('./node-listener.js');
    return startNodeListener(cfg, handler, log, certs, reusePort, inheritedFd);
  }
  if (inheritedFd !== undefined) throw new Error(`listener ${cfg.name}: engine uws cannot listen on an inherited socket`);
  // Imported lazily: the uws engine (uws-module.ts) sets UWS_HTTP_MAX_HEADERS_SIZE before loading the native module.
  const { startUwsListener } = await import('./uws-listener.js');
  return startUwsListener(cfg, handler, log, certs, reusePort);
}
