/**
 * One error catalogue with stable codes (modelled on undici's lib/core/errors.js).
 * Codes appear in logs and in /stats `errors` counters; never rename one.
 */
export type ErrorCode =
  | 'LH_CONFIG_INVALID'
  | 'LH_CONNECT_FAILED' // TCP connect or TLS handshake to a server failed
  | 'LH_CONNECT_TIMEOUT'
  | 'LH_QUEUE_TIMEOUT' // waited timeouts.queue for a connection
  | 'LH_QUEUE_FULL' // the server's queue holds pool.max-queue requests already (HAProxy maxqueue): 503 at once
  | 'LH_MISDIRECTED' // sni: host and the request's Host is outside tls.sni-allow: 421, never sent (RFC 9110 §15.5.20)
  | 'LH_TLS_NAME_REFUSED' // sni: host: the TLS handshake for the client's name failed (no certificate for it): the name's fault, not the server's
  | 'LH_NO_SERVER' // no server is usable in the farm
  | 'LH_CONN_CLOSED_BEFORE_RESPONSE' // reused or fresh connection failed before any response byte
  | 'LH_SERVER_TIMEOUT' // timeouts.server elapsed waiting for the server
  | 'LH_BAD_RESPONSE' // server sent something that is not HTTP/1.1
  | 'LH_RESPONSE_ABORTED' // server connection failed after the response started
  | 'LH_RESPONSE_MISMATCH' // the response carried another request's X-Request-Id: the server's connection is out of step (F8), never forwarded
  | 'LH_CLIENT_ABORTED' // the client went away
  | 'LH_CLIENT_BAD_REQUEST' // the backend codec refused the client's request before sending it: the client's fault
  | 'LH_CLIENT_SLOW_UPLOAD' // the client sent its body slower than min-upload-rate over timeouts.http-request (while the gateway was ready): the client's fault
  | 'LH_BODY_READER_CLOSED' // internal: a retry took the request body over from an earlier attempt
  | 'LH_POOL_CLOSED'
  | 'LH_BODY_TOO_LARGE_TO_REPLAY'
  | 'LH_RETRY_STATUS' // server answered a `retry-on` status; the response was not forwarded, the request is retried
  | 'LH_DNS_FAILED' // discover: the DNS query failed (timeout, refused, SERVFAIL…): the last good answer is kept
  | 'LH_DNS_EMPTY' // discover: the name has no records of the type (NXDOMAIN, NODATA): the last good answer is kept
  | 'LH_NOT_REPLAYED' // request written, connection failed before a response: the server may have processed it
  | 'LH_CODEC_UNAVAILABLE'; // this Node.js lacks the native HTTP parser the backend codec needs (src/pool/llhttp-binding.ts): the process does not start

export class LonghaulError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LonghaulError';
  }
}

/** Failures caused by the client: never counted against a server, never retried elsewhere, logged as client faults (issue 11 item 2). */
export const CLIENT_FAULTS: ReadonlySet<string> = new Set<ErrorCode>(['LH_CLIENT_ABORTED', 'LH_CLIENT_BAD_REQUEST', 'LH_CLIENT_SLOW_UPLOAD']);

export function isClientFault(code: string): boolean {
  return CLIENT_FAULTS.has(code);
}

export function errorCode(err: unknown): string {
  if (err instanceof LonghaulError) return err.code;
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'LH_UNKNOWN';
}
