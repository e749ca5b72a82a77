/**
 * Parse-loop state. uWS runs one socket's parse loop at a time, synchronously, on this thread;
 * these are shared by every uws listener of the process. Read and written through `parseTurn`
 * (the request handler, the connection data handler and the exchanges all update it); the tick
 * jobs (`atTick`) run on the next event-loop turn, after `runTick` has reset it.
 */
import type { UwsExchange } from './uws-exchange.js';
import { noop } from './uws-module.js';

interface ParseTurnState {
  /**
   * A uWS parse callback (request handler, connection data handler) ran in this event-loop turn.
   * Cleared on the next tick only: MEASURED, the microtasks queued by our callback (the proxy's
   * promise continuations) run before uWS gets control back, i.e. still inside its parse loop,
   * where a data handler we install is undone when uWS finishes the last chunk.
   */
  readonly inParseTurn: boolean;
  /** A non-chunked request whose handler just ran: its connection's data handler follows synchronously. */
  pendingSync: UwsExchange | null;
  /** A chunked request whose handler just ran: its first chunk may follow synchronously (if buffered). */
  lastChunked: UwsExchange | null;
}

const state: { -readonly [K in keyof ParseTurnState]: ParseTurnState[K] } = {
  inParseTurn: false,
  pendingSync: null,
  lastChunked: null,
};
/** The process-wide parse-loop state (see ParseTurnState). */
export const parseTurn: ParseTurnState = state;

export function enterParseTurn(): void {
  if (state.inParseTurn) return;
  state.inParseTurn = true;
  atTick(noop);
}

let tickScheduled = false;
let tickJobs: Array<() => void> = [];
export function atTick(job: () => void): void {
  tickJobs.push(job);
  if (!tickScheduled) {
    tickScheduled = true;
    setImmediate(runTick);
  }
}
function runTick(): void {
  tickScheduled = false;
  state.inParseTurn = false;
  state.lastChunked = null;
  if (state.pendingSync) {
    const p = state.pendingSync;
    state.pendingSync = null;
    p.listener.unidentified(p, 'no connection data followed the request');
  }
  const jobs = tickJobs;
  tickJobs = [];
  for (const job of jobs) {
    try {
      job();
    } catch {
      // a job must never take the loop down
    }
  }
}
