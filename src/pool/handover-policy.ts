import type { DemandTracker } from './demand-tracker.js';
import { burstPatience } from './burst-policy.js';

/**
 * Shared budgets hand over by key (design "Shared budgets hand over by key", issue 11 item 3):
 * the server's max-conn is full and a request of key K finds no idle connection of K. It may
 * close another key's IDLE connection and open one of its own — a new handshake (3 RTT on the
 * WAN) and the other key loses a warm connection — or wait for one of K's busy connections.
 * Take over only when that shortens the wait: when none of K's busy connections is expected to
 * free before a new connection could be set up (the burst policy's estimate, burst-policy.ts).
 * K with no busy connection at all has nothing to wait for: take over now.
 *
 * Returns the patience (how long to wait before taking over anyway, should the estimate be
 * wrong), or null to take over now. This is policy only; ServerPool and ServerBudget are the
 * mechanism.
 */
export function handoverPatience(demand: DemandTracker, ownBusyLeasedAt: readonly number[], waitingAhead: number, now: number): number | null {
  if (ownBusyLeasedAt.length === 0) return null;
  // Without measurements yet, wait one exchange's worth (unknown): the patience timer bounds it.
  if (demand.setupMs === null || demand.exchangeMs === null) return demand.setupMs ?? 50;
  return burstPatience(demand, ownBusyLeasedAt, waitingAhead, now);
}

/** Which other pool gives up an idle connection: the one with the most idle ones (it needs them least). */
export function pickDonor<P extends { readonly idleCount: number; readonly queueLength: number }>(pools: Iterable<P>, taker: P): P | null {
  let best: P | null = null;
  for (const p of pools) {
    if (p === taker || p.idleCount === 0) continue;
    // A pool whose own requests wait keeps its idle connections for them (they do not suit them
    // right now, but they are its own).
    if (p.queueLength > 0) continue;
    if (!best || p.idleCount > best.idleCount) best = p;
  }
  return best;
}
