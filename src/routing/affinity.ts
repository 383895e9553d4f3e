/**
 * The default policy. Among the candidates under the load bound, in order:
 *   1. the engine of the request's session (`x-session-id`, `user`), where its history is cached;
 *   2. the engine holding the longest prefix of the request (ties: least expected latency);
 *   3. the least expected latency.
 * The bound is what keeps affinity from piling a hot system prompt onto one engine: past it,
 * the request spills to the next-best engine, which then caches that prefix too.
 */
import type { RoutingCandidate } from './candidate.ts';
import { underLoadBound } from './bounded-load.ts';
import { leastExpectedLatency } from './expected-latency.ts';

export interface AffinityRequest {
  /** Where the request's session last ran. */
  sessionEngine?: string;
  /** Engine key → how many leading prefix blocks of the request it holds. */
  prefixMatches: ReadonlyMap<string, number>;
  epsilon?: number;
}

export type AffinityReason = 'session' | 'prefix' | 'least-latency';

export function chooseByAffinity<T extends RoutingCandidate>(
  candidates: readonly T[],
  request: AffinityRequest,
): { engine: T; reason: AffinityReason } | undefined {
  const allowed = underLoadBound(candidates, request.epsilon);
  const session = allowed.find((engine) => engine.engineKey === request.sessionEngine);
  if (session) return { engine: session, reason: 'session' };
  let longest = 0;
  for (const engine of allowed) longest = Math.max(longest, request.prefixMatches.get(engine.engineKey) ?? 0);
  if (longest > 0) {
    const holders = allowed.filter((engine) => request.prefixMatches.get(engine.engineKey) === longest);
    return { engine: leastExpectedLatency(holders)!, reason: 'prefix' };
  }
  const engine = leastExpectedLatency(allowed);
  return engine && { engine, reason: 'least-latency' };
}
