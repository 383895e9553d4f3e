/**
 * The whole of a pool's decision for one request, as a pure function of what the pool holds:
 * which engines may be asked at all (health), which one the policy picks, or why none can take
 * it and when to come back. The Durable Object only stores state and grants the lease.
 *
 * Health comes before policy: an engine that is unavailable (node unhealthy or draining,
 * engine not ready), excluded (it already failed this request), behind an open breaker, or at
 * its cap (maxConcurrency × overcommit: past a full batch and a full queue, more requests only
 * add latency) takes nothing, whatever the policy.
 */
import { allowsLease, nextLeaseAt, type BreakerState } from './circuit-breaker.ts';
import type { RoutingCandidate } from './candidate.ts';
import { chooseEngine, type RoutingPolicy, type RoutingReason } from './policies.ts';
import { saturatedRetryAfterSeconds, secondsUntil } from './retry-after.ts';

export interface PoolEngineState extends Omit<RoutingCandidate, 'reportFresh'> {
  /** Node healthy, not draining, engine ready. */
  available: boolean;
  /** When the load figures were reported; null before the first report with a load. */
  reportedAt: number | null;
  breaker: BreakerState;
}

export interface PickInput {
  policy: RoutingPolicy;
  now: number;
  /** A report older than this is stale. */
  staleAfterMs: number;
  overcommit: number;
  heartbeatIntervalMs: number;
  turn: number;
  exclude: ReadonlySet<string>;
  /**
   * The request's session. A strict one (LMDeploy's interactive chat, whose KV state lives on
   * one engine) goes to its engine or nowhere; any other is a preference, `affinity`'s only.
   */
  session?: { engineKey?: string; strict: boolean };
  prefixMatches: ReadonlyMap<string, number>;
}

export type PickRefusal =
  | 'unknown_model'
  | 'no_trusted_engine'
  | 'no_available_engine'
  | 'engines_saturated'
  | 'session_engine_gone'
  | 'session_engine_unavailable';

export type PickDecision =
  | { ok: true; engineKey: string; reason: RoutingReason | 'strict-session' }
  | { ok: false; reason: PickRefusal; retryAfterSeconds: number };

export function decidePick(engines: readonly PoolEngineState[], input: PickInput): PickDecision {
  if (engines.length === 0) return { ok: false, reason: 'unknown_model', retryAfterSeconds: 0 };
  if (input.session?.strict && input.session.engineKey !== undefined) {
    return strictSessionPick(engines, input.session.engineKey, input);
  }
  const reachable = engines.filter((e) => e.available && !input.exclude.has(e.engineKey));
  if (reachable.length === 0) {
    return { ok: false, reason: 'no_available_engine', retryAfterSeconds: untilNextHeartbeat(input) };
  }
  const healthy = reachable.filter((e) => allowsLease(e.breaker, input.now));
  if (healthy.length === 0) {
    const soonest = Math.min(...reachable.map((e) => nextLeaseAt(e.breaker, input.now)));
    return { ok: false, reason: 'no_available_engine', retryAfterSeconds: secondsUntil(soonest, input.now) };
  }
  const candidates = healthy.filter((e) => underCap(e, input)).map((e) => asCandidate(e, input));
  const chosen = chooseEngine(input.policy, candidates, {
    turn: input.turn,
    sessionEngine: input.session?.engineKey,
    prefixMatches: input.prefixMatches,
  });
  if (!chosen) {
    return { ok: false, reason: 'engines_saturated', retryAfterSeconds: saturatedRetryAfterSeconds(healthy) };
  }
  return { ok: true, engineKey: chosen.engine.engineKey, reason: chosen.reason };
}

function strictSessionPick(
  engines: readonly PoolEngineState[],
  engineKey: string,
  input: PickInput,
): PickDecision {
  const engine = engines.find((e) => e.engineKey === engineKey);
  if (!engine) return { ok: false, reason: 'session_engine_gone', retryAfterSeconds: 0 };
  if (!engine.available || input.exclude.has(engineKey)) {
    return { ok: false, reason: 'session_engine_unavailable', retryAfterSeconds: untilNextHeartbeat(input) };
  }
  if (!allowsLease(engine.breaker, input.now)) {
    const retryAfterSeconds = secondsUntil(nextLeaseAt(engine.breaker, input.now), input.now);
    return { ok: false, reason: 'session_engine_unavailable', retryAfterSeconds };
  }
  if (!underCap(engine, input)) {
    return {
      ok: false,
      reason: 'engines_saturated',
      retryAfterSeconds: saturatedRetryAfterSeconds([engine]),
    };
  }
  return { ok: true, engineKey, reason: 'strict-session' };
}

/** By the next heartbeat an engine may have become ready. */
function untilNextHeartbeat(input: PickInput): number {
  return Math.max(1, Math.ceil(input.heartbeatIntervalMs / 1000));
}

function underCap(engine: PoolEngineState, input: PickInput): boolean {
  return engine.inflight < engine.maxConcurrency * input.overcommit;
}

function asCandidate(engine: PoolEngineState, input: PickInput): PoolEngineState & RoutingCandidate {
  const reportFresh = engine.reportedAt !== null && input.now - engine.reportedAt <= input.staleAfterMs;
  return { ...engine, reportFresh };
}
