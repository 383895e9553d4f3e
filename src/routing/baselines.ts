/**
 * The policies the benchmark measures `affinity` against, kept selectable per pool.
 * Each takes the candidates the pool allows (available, under their cap, breaker closed).
 */
import { lowestScore } from './candidate.ts';
import type { Candidate } from './least-loaded.ts';

/** The next engine in a fixed order (by key), the turn being the pool's own counter. */
export function roundRobin<T extends Candidate>(candidates: readonly T[], turn: number): T | undefined {
  if (candidates.length === 0) return undefined;
  const ordered = [...candidates].sort((a, b) =>
    a.engineKey < b.engineKey ? -1 : a.engineKey > b.engineKey ? 1 : 0,
  );
  return ordered[turn % ordered.length];
}

export function randomEngine<T>(candidates: readonly T[]): T | undefined {
  return candidates[Math.floor(Math.random() * candidates.length)];
}

/**
 * LMDeploy's proxy `min_expected_latency`: the engine's unfinished requests over its speed,
 * ties at random. LMDeploy's speed is a per-node figure the operator may supply; the pool has
 * none, so capacity (batch slots) stands in for it, and unfinished requests are the pool's
 * leases out, which is what LMDeploy's proxy counts too.
 */
export function minExpectedLatency<T extends Candidate>(candidates: readonly T[]): T | undefined {
  return lowestScore(candidates, (engine) => engine.inflight / engine.maxConcurrency);
}
