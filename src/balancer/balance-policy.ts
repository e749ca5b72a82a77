import type { Balance } from '../config/config-types.js';
import type { BackendServer } from './backend-server.js';

/** Picks one server among candidates (all usable, never empty). */
export interface BalancePolicy {
  pick(candidates: readonly BackendServer[]): BackendServer;
}

/**
 * Smooth weighted round robin (nginx's algorithm): each pick adds every candidate's weight to its
 * current score, takes the highest, and subtracts the total from it. Spreads a 5:1:1 weight as
 * a,a,b,a,c,a,a rather than a,a,a,a,a,b,c.
 */
class RoundRobin implements BalancePolicy {
  readonly #current = new Map<BackendServer, number>();
  pick(candidates: readonly BackendServer[]): BackendServer {
    let total = 0;
    let best: BackendServer | null = null;
    let bestScore = -Infinity;
    for (const s of candidates) {
      const w = Math.max(1, s.weight);
      total += w;
      const score = (this.#current.get(s) ?? 0) + w;
      this.#current.set(s, score);
      if (score > bestScore) {
        bestScore = score;
        best = s;
      }
    }
    this.#current.set(best!, bestScore - total);
    return best!;
  }
}

/** Fewest in-flight requests relative to weight; ties go round robin. */
class LeastConn implements BalancePolicy {
  #rr = 0;
  pick(candidates: readonly BackendServer[]): BackendServer {
    let best: BackendServer[] = [];
    let bestLoad = Infinity;
    for (const s of candidates) {
      const load = (s.active + 1) / Math.max(1, s.weight);
      if (load < bestLoad) {
        bestLoad = load;
        best = [s];
      } else if (load === bestLoad) best.push(s);
    }
    return best[this.#rr++ % best.length]!;
  }
}

/** The first server (in config order) that is usable: keeps traffic on as few servers as possible. */
class First implements BalancePolicy {
  pick(candidates: readonly BackendServer[]): BackendServer {
    return candidates[0]!;
  }
}

export function createBalancePolicy(balance: Balance): BalancePolicy {
  switch (balance) {
    case 'roundrobin':
      return new RoundRobin();
    case 'leastconn':
      return new LeastConn();
    case 'first':
      return new First();
  }
}
