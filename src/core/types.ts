import type { ClientConnection } from './client-connection.js';
import type { ForwardedPolicy } from './forwarded-policy.js';

/**
 * Engine-neutral request/response contract between `front` (uws | node) and `proxy`.
 * `front` never sees backend connections; `proxy` never sees uWS or node:http objects.
 */

/** Header list in arrival order; names as received (case preserved), values unmodified. */
export type HeaderList = Array<[name: string, value: string]>;

/** The request body: one producer (the front), one reader at a time (an attempt); see request-body.ts. */
export type { RequestBody } from './request-body.js';
import type { RequestBody } from './request-body.js';

export interface ProxyRequest {
  /** Method in its real case (uWS lowercases; the front restores it), a validated RFC 9110 token. */
  readonly method: string;
  /** origin-form request target (path + query). */
  readonly target: string;
  readonly httpVersion: '1.0' | '1.1';
  /** All request headers as received; the proxy removes hop-by-hop ones. */
  readonly headers: HeaderList;
  readonly remoteAddress: string;
  /** Client's TCP port and negotiated TLS version (`TLSv1.3`), when the front engine knows them (access log). */
  readonly remotePort?: number | undefined;
  readonly tlsVersion?: string | null | undefined;
  /** Stable id of the client connection (= client.id; logs). */
  readonly clientConnId: number;
  /** The client connection: request count (first request or not), close notification. */
  readonly client: ClientConnection;
  /** Listener name, for logs and routing. */
  readonly listener: string;
  /** Farm this listener routes to by default. */
  readonly farm: string;
  /** Client asked for the connection to close after this response (Connection: close, or HTTP/1.0 without keep-alive). */
  readonly wantsClose: boolean;
  /** Null when the request has no body. */
  readonly body: RequestBody | null;
  /** Wall clock (performance.now()) when the request head was complete. */
  readonly receivedAt: number;
  /** The listener's `forwarded-for` policy (absent: replace). */
  readonly forwardedFor?: ForwardedPolicy | undefined;
}

/**
 * Where a response goes. The proxy calls start() once, then write() zero or more times, then end();
 * or, if anything fails after start(), destroy(): the client connection is closed so it never
 * receives parts of two responses.
 */
export interface ResponseSink {
  /**
   * @param headers end-to-end headers only (no hop-by-hop, no Date, no Content-Length/Transfer-Encoding)
   * @param bodyLength Content-Length to announce, or null for unknown length (chunked)
   * @param noBody HEAD, 1xx, 204 or 304: headers only (bodyLength is still announced for HEAD/304)
   */
  start(status: number, reason: string, headers: HeaderList, bodyLength: number | null, noBody: boolean): void;
  /** Returns false when the client is slow: wait for onDrain before writing more. */
  write(chunk: Buffer): boolean;
  /** Called once when the client can take more after write() returned false. */
  onDrain(cb: () => void): void;
  end(): void;
  /** Response failed after start(): close the client connection. */
  destroy(): void;
  /** Client went away (connection closed / reset). */
  onAbort(cb: () => void): void;
  readonly aborted: boolean;
  readonly started: boolean;
}

export type RequestHandler = (req: ProxyRequest, res: ResponseSink) => void;
