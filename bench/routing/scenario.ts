/**
 * What the routing benchmark runs: the fleet, the workload and the load levels. Sized for a
 * 2-core machine that also runs the gateway, the agent and the client: few engines, short
 * answers, tens of concurrent conversations. Engines are scaled down (small prefix caches,
 * few batch slots) so that the cache pressure a real fleet feels under thousands of users
 * appears here under tens.
 */
import type { RoutingPolicy } from '../../src/routing/policies.ts';

export const MODEL = 'bench-routing';

export interface SimulatedEngine {
  id: string;
  /** Simulator flags (docs/simulator.md). */
  flags: Record<string, number>;
  /** Batch slots: the simulator's --max-batch and the agent's maxConcurrency. */
  maxBatch: number;
}

/** Heterogeneous: a fast GPU with a large cache, a middling one, a slow one with a small cache. */
export const ENGINES: SimulatedEngine[] = [
  {
    id: 'fast',
    maxBatch: 8,
    flags: {
      'decode-ms-per-token': 12,
      'prefill-tokens-per-s': 8000,
      'prefix-cache-tokens': 16_000,
      'kv-cache-tokens': 48_000,
    },
  },
  {
    id: 'medium',
    maxBatch: 6,
    flags: {
      'decode-ms-per-token': 16,
      'prefill-tokens-per-s': 6000,
      'prefix-cache-tokens': 12_000,
      'kv-cache-tokens': 36_000,
    },
  },
  {
    id: 'slow',
    maxBatch: 4,
    flags: {
      'decode-ms-per-token': 24,
      'prefill-tokens-per-s': 4000,
      'prefix-cache-tokens': 8_000,
      'kv-cache-tokens': 24_000,
    },
  },
];

export interface Workload {
  /** Shared system prompts; conversations pick one, the first ones more often. */
  systemPrompts: number;
  systemPromptChars: number;
  /** Turns per conversation, uniformly in [min, max]. */
  turns: [number, number];
  userMessageChars: [number, number];
  maxTokens: number;
}

export const WORKLOAD: Workload = {
  systemPrompts: 12,
  systemPromptChars: 3000,
  turns: [4, 8],
  userMessageChars: [400, 1000],
  maxTokens: 24,
};

/** Concurrent conversations (closed loop: each sends its next turn when the last one answered). */
export const LOAD_LEVELS = [6, 16, 28];

/** Round-robin first: the baseline every ratio is taken against. */
export const POLICIES: RoutingPolicy[] = [
  'round-robin',
  'random',
  'least-loaded',
  'min-expected-latency',
  'affinity',
];
