import type { HealthConfig } from '../config/config-types.js';

/** One outcome of an attempt on live traffic: a response status, or an error code. */
export type Outcome = { status: number } | { code: string; reused: boolean };

/** Connection-level failures (HAProxy `observe layer4`). */
const LAYER4 = new Set(['LH_CONNECT_FAILED', 'LH_CONNECT_TIMEOUT', 'LH_CONN_CLOSED_BEFORE_RESPONSE', 'LH_RESPONSE_ABORTED']);
/** HTTP-level failures added by `observe layer7`. */
const LAYER7 = new Set(['LH_SERVER_TIMEOUT', 'LH_BAD_RESPONSE', 'LH_RESPONSE_MISMATCH']);

/**
 * Passive health (HAProxy `observe`): is this live-traffic outcome an error of the server (true),
 * a success that resets the consecutive-error count (false), or neither (null)?
 *
 * Never the server's fault, so neither: the client going away, our own queue timeout or closed
 * pool, and a reused connection failing before any response byte (the idle-close race of the
 * design; the forwarder retries it for free). `layer7` also counts server timeouts, non-HTTP
 * answers and 5xx statuses except 501 and 505 (which answer the request, not the server's
 * health; HAProxy makes the same exception).
 */
export function isObservedError(observe: HealthConfig['observe'], o: Outcome): boolean | null {
  if (observe === 'none') return null;
  if ('status' in o) return observe === 'layer7' && o.status >= 500 && o.status !== 501 && o.status !== 505;
  if (o.code === 'LH_CONN_CLOSED_BEFORE_RESPONSE' && o.reused) return null;
  if (LAYER4.has(o.code)) return true;
  if (observe === 'layer7' && LAYER7.has(o.code)) return true;
  return null;
}
