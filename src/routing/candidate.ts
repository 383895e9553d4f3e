/**
 * An engine as the routing policies see it: what it last reported, what the pool itself
 * counts (leases out, leases since that report), and what the pool learned (how long its
 * requests take). The pool builds these; the policies only read them.
 */
import type { Candidate } from './least-loaded.ts';

export interface RoutingCandidate extends Candidate {
  /** 0..1 share of the KV cache in use, as last reported. */
  kvCacheUsage: number;
  /** The last load report is recent enough to trust; a stale one says nothing (not "idle"). */
  reportFresh: boolean;
  /** Recent successful leases' mean duration on this engine; null until one has ended. */
  meanLeaseMs: number | null;
}

/** One of the best-scoring candidates (lowest score), ties broken at random. */
export function lowestScore<T>(candidates: readonly T[], score: (candidate: T) => number): T | undefined {
  let best: T[] = [];
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const value = score(candidate);
    if (value < bestScore) {
      best = [candidate];
      bestScore = value;
    } else if (value === bestScore) best.push(candidate);
  }
  return best[Math.floor(Math.random() * best.length)];
}
