/** Candidates for the routing tests. */
import fc from 'fast-check';
import type { RoutingCandidate } from '../../src/routing/candidate.ts';

export function candidate(
  engineKey: string,
  fields: Partial<Omit<RoutingCandidate, 'engineKey'>> = {},
): RoutingCandidate {
  return {
    engineKey,
    running: 0,
    waiting: 0,
    kvCacheUsage: 0,
    maxConcurrency: 8,
    inflight: 0,
    leasesSinceReport: 0,
    reportFresh: true,
    meanLeaseMs: null,
    ...fields,
  };
}

/** Fleets of 1–16 engines with any mix of capacity, leases out, reports and measured speed. */
export const fleets = fc
  .array(
    fc.record({
      running: fc.nat({ max: 300 }),
      waiting: fc.nat({ max: 300 }),
      kvCacheUsage: fc.double({ min: 0, max: 1, noNaN: true }),
      maxConcurrency: fc.integer({ min: 1, max: 512 }),
      inflight: fc.nat({ max: 1024 }),
      leasesSinceReport: fc.nat({ max: 64 }),
      reportFresh: fc.boolean(),
      meanLeaseMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: null }),
    }),
    { minLength: 1, maxLength: 16 },
  )
  .map((list) => list.map((fields, i) => candidate(`node-${i}/engine`, fields)));
