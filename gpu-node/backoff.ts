/**
 * Waiting between retries. Full jitter (a uniform pick in [0, min(cap, base·2^attempt)))
 * spreads restarts and reconnects out, so a fleet of agents that lost the gateway at the same
 * moment does not come back in lockstep.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Injectable so tests can pin the jitter; defaults to Math.random. */
  random?: () => number;
}

export function fullJitterDelay(attempt: number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects: callers check the signal). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
}
