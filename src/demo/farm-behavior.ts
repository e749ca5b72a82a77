/** The farm server's deliberate misbehaviours (for tests), and how one response applies them. */
import type { ServerResponse } from 'node:http';

export interface FarmBehavior {
  /**
   * The Nth, 2Nth, … response on each connection carries `Connection: close`, and the server
   * closes that connection after it (like nginx `keepalive_requests N`).
   */
  closeEvery?: number;
  /** Server closes (close_notify + FIN) a connection idle this long; overrides keepAliveTimeoutMs. */
  idleCloseMs?: number;
  /** Adds `Keep-Alive: timeout=N` to keep-alive responses. No hint is sent otherwise. */
  keepAliveHintSeconds?: number;
  /** Status of `/health` (default 200): 404 is a soft stop for `disable-on-404` (background 002). */
  healthStatus?: number;
}

export function hasCloseToken(value: string | undefined): boolean {
  return value !== undefined && value.split(',').some((t) => t.trim().toLowerCase() === 'close');
}

/**
 * Sets the connection headers `behavior` asks for on the `connRequest`-th response of a
 * connection (`requestConnection`: the request's Connection header). Returns true when the
 * response carries `Connection: close`: the server closes the connection after it.
 */
export function applyResponseBehavior(res: ServerResponse, requestConnection: string | undefined, connRequest: number, behavior: FarmBehavior): boolean {
  const closeEvery = behavior.closeEvery;
  if (closeEvery !== undefined && closeEvery > 0 && connRequest % closeEvery === 0) {
    res.setHeader('Connection', 'close');
    return true;
  }
  if (behavior.keepAliveHintSeconds !== undefined && !hasCloseToken(requestConnection)) {
    res.setHeader('Keep-Alive', `timeout=${behavior.keepAliveHintSeconds}`);
  }
  return false;
}
