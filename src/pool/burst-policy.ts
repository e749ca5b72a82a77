import type { DemandTracker } from './demand-tracker.js';

/**
 * Every connection is busy and max-conn is not reached: open one more, or wait for one to free?
 * A new connection costs `setupMs` (one or two WAN round trips); a busy one is expected to free
 * after `exchangeMs` minus the time it has already been busy, and then every `exchangeMs` again.
 * The k-th waiter (FIFO, k from 0) gets the (k mod busy)-th connection to free, in its
 * (k div busy)-th round. Wait when that is sooner than a new connection could be set up.
 * Without measurements yet, open.
 *
 * Returns how long to wait before opening anyway (the patience), or null to open now.
 */
export function burstPatience(demand: DemandTracker, busyLeasedAt: readonly number[], waiting: number, now: number): number | null {
  const { setupMs, exchangeMs } = demand;
  if (setupMs === null || exchangeMs === null) return null;
  const busy = busyLeasedAt.length;
  if (busy === 0) return null;
  const remaining = busyLeasedAt.map((t) => Math.max(0, exchangeMs - (now - t))).sort((a, b) => a - b);
  const expectedFree = remaining[waiting % busy]! + Math.floor(waiting / busy) * exchangeMs;
  if (expectedFree >= setupMs) return null;
  // If the estimate was wrong, open after the time a new connection would have taken.
  return setupMs;
}
