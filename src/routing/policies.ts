/**
 * The routing policies a pool can be set to, and the one place that runs the chosen one.
 * `affinity` is the default because it measured best (docs/routing.md); the others stay
 * selectable so the benchmark compares them in one run, and as an operator's way out.
 * Health is not a policy: every policy sees only the candidates the pool allows.
 */
import { chooseByAffinity, type AffinityReason } from './affinity.ts';
import { minExpectedLatency, randomEngine, roundRobin } from './baselines.ts';
import type { RoutingCandidate } from './candidate.ts';
import { leastLoaded } from './least-loaded.ts';

export const ROUTING_POLICIES = [
  'affinity',
  'round-robin',
  'random',
  'least-loaded',
  'min-expected-latency',
] as const;
export type RoutingPolicy = (typeof ROUTING_POLICIES)[number];

export function isRoutingPolicy(value: unknown): value is RoutingPolicy {
  return (ROUTING_POLICIES as readonly unknown[]).includes(value);
}

export interface RoutingInput {
  /** The pool's round-robin counter. */
  turn: number;
  /** Where the request's session last ran; only `affinity` uses it. */
  sessionEngine?: string;
  /** Engine key → leading prefix blocks it holds; only `affinity` uses it. */
  prefixMatches: ReadonlyMap<string, number>;
}

export type RoutingReason = AffinityReason | RoutingPolicy;

export function chooseEngine<T extends RoutingCandidate>(
  policy: RoutingPolicy,
  candidates: readonly T[],
  input: RoutingInput,
): { engine: T; reason: RoutingReason } | undefined {
  if (policy === 'affinity') return chooseByAffinity(candidates, input);
  const engine = baseline(policy, candidates, input.turn);
  return engine && { engine, reason: policy };
}

function baseline<T extends RoutingCandidate>(
  policy: Exclude<RoutingPolicy, 'affinity'>,
  candidates: readonly T[],
  turn: number,
): T | undefined {
  switch (policy) {
    case 'round-robin':
      return roundRobin(candidates, turn);
    case 'random':
      return randomEngine(candidates);
    case 'least-loaded':
      return leastLoaded([...candidates]);
    case 'min-expected-latency':
      return minExpectedLatency(candidates);
  }
}
