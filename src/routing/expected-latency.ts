/**
 * Least expected latency: where a request is likely to finish soonest. An engine's expected
 * latency is its typical request time (the mean duration of its recent leases, which captures
 * a slower GPU) stretched by how full it is: reported running + waiting, plus the leases the
 * pool granted since that report, per batch slot — or its KV-cache use, when that is higher,
 * because a request that does not fit in memory waits even with slots free. An engine whose
 * report is stale ranks after every engine with a fresh one: its load is unknown, not zero.
 */
import { lowestScore, type RoutingCandidate } from './candidate.ts';

export function leastExpectedLatency<T extends RoutingCandidate>(candidates: readonly T[]): T | undefined {
  const fresh = candidates.filter((engine) => engine.reportFresh);
  const pool = fresh.length > 0 ? fresh : candidates;
  const typicalMs = meanOfKnown(pool);
  return lowestScore(pool, (engine) => expectedLatency(engine, typicalMs));
}

/** Relative, not milliseconds: only the order matters. */
export function expectedLatency(engine: RoutingCandidate, typicalMs: number): number {
  const occupancy = Math.max(
    (engine.running + engine.waiting + engine.leasesSinceReport) / engine.maxConcurrency,
    engine.kvCacheUsage,
  );
  return (engine.meanLeaseMs ?? typicalMs) * (1 + occupancy);
}

/** An engine not yet measured is assumed typical, so it gets tried and measured. */
function meanOfKnown(candidates: readonly RoutingCandidate[]): number {
  const known = candidates.flatMap((engine) => (engine.meanLeaseMs === null ? [] : [engine.meanLeaseMs]));
  return known.length === 0 ? 1 : known.reduce((sum, ms) => sum + ms, 0) / known.length;
}
