import { isClientFault } from '../core/errors.js';
import type { ExchangePhase } from './exchange.js';

/**
 * The farm's `retry-on` list, parsed once per farm config (HAProxy's keywords):
 *   conn-failure ...... connect / TLS handshake failed, or a fresh connection failed before any
 *                       request byte was written
 *   empty-response .... the connection closed after the request was written, before any
 *                       response byte (idempotent requests only)
 *   junk-response ..... the server answered something that is not HTTP, or the answer to another
 *                       request (LH_RESPONSE_MISMATCH), before anything was forwarded
 *                       (idempotent only)
 *   response-timeout .. no response head within timeouts.server (idempotent only)
 *   <status> .......... the response head carried this status; nothing forwarded yet
 *                       (idempotent only)
 */
export interface RetryOn {
  connFailure: boolean;
  emptyResponse: boolean;
  junkResponse: boolean;
  responseTimeout: boolean;
  statuses: ReadonlySet<number>;
}

const cache = new WeakMap<readonly string[], RetryOn>();

export function parseRetryOn(list: readonly string[]): RetryOn {
  let r = cache.get(list);
  if (!r) {
    const statuses = new Set<number>();
    for (const item of list) if (/^\d{3}$/.test(item)) statuses.add(Number(item));
    r = {
      connFailure: list.includes('conn-failure'),
      emptyResponse: list.includes('empty-response'),
      junkResponse: list.includes('junk-response'),
      responseTimeout: list.includes('response-timeout'),
      statuses,
    };
    cache.set(list, r);
  }
  return r;
}

export interface FailedAttempt {
  code: string;
  phase: Exclude<ExchangePhase, 'response-started'>;
  idempotent: boolean;
  /** The attempt rode a connection that had served an exchange before. */
  reused: boolean;
  /** The request body can no longer be sent again from its start (read past replay-buffer). */
  bodyLost: boolean;
}

/**
 * The design's retry table, governed by `retry-on`:
 *   'stale'   = free retry (the idle-close race on a reused connection; does not use `retries`,
 *               whatever `retry-on` says — the design requires surviving it);
 *   'counted' = a retry that uses up one of `retries`;
 *   null      = no retry.
 * A non-idempotent request whose bytes reached the server is never replayed (it may have been
 * processed); neither is a request whose body was streamed past replay-buffer.
 */
export function classifyFailure(f: FailedAttempt, on: RetryOn): 'stale' | 'counted' | null {
  // The client's fault (bad input, abort, slow upload): no other server would do better (issue 11 item 2).
  if (f.bodyLost || isClientFault(f.code)) return null;
  switch (f.code) {
    case 'LH_QUEUE_TIMEOUT':
    case 'LH_QUEUE_FULL': // 503 at once (HAProxy maxqueue; issue 11 item 6)
    case 'LH_TLS_NAME_REFUSED': // the client's name, not the server: another server would refuse it too
    case 'LH_CLIENT_BAD_REQUEST': // the client's input: no server would take it (issue 11 item 2)
      return null;
    case 'LH_POOL_CLOSED':
      // The server was removed by a reload (or the gateway is stopping): nothing was sent.
      return 'stale';
    case 'LH_CONNECT_FAILED':
    case 'LH_CONNECT_TIMEOUT':
      return on.connFailure ? 'counted' : null;
  }
  if (f.phase === 'not-written') {
    if (f.reused) return 'stale';
    return on.connFailure ? 'counted' : null;
  }
  if (!f.idempotent) return null;
  switch (f.code) {
    case 'LH_CONN_CLOSED_BEFORE_RESPONSE':
      if (f.reused) return 'stale';
      return on.emptyResponse ? 'counted' : null;
    case 'LH_BAD_RESPONSE':
    case 'LH_RESPONSE_MISMATCH': // the answer to another request: this one's is still to come on a desynced connection
      return on.junkResponse ? 'counted' : null;
    case 'LH_SERVER_TIMEOUT':
      return on.responseTimeout ? 'counted' : null;
    case 'LH_RETRY_STATUS':
      return 'counted';
    default:
      return null;
  }
}
