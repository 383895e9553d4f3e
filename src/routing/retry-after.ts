/**
 * How long a refused client should wait, from what the pool knows, rather than a constant.
 * When every engine is at its cap, a slot opens when the first lease comes back: with k leases
 * out on an engine whose leases last m ms on average, one ends about every m / k ms.
 */
export interface SaturatedEngine {
  inflight: number;
  meanLeaseMs: number | null;
}

/** Whole seconds (what `retry-after` carries), at least 1, at most `maxSeconds`. */
export function saturatedRetryAfterSeconds(engines: readonly SaturatedEngine[], maxSeconds = 30): number {
  let soonestMs = Infinity;
  for (const engine of engines) {
    if (engine.meanLeaseMs === null || engine.inflight === 0) continue;
    soonestMs = Math.min(soonestMs, engine.meanLeaseMs / engine.inflight);
  }
  if (soonestMs === Infinity) return 1;
  return Math.min(maxSeconds, Math.max(1, Math.ceil(soonestMs / 1000)));
}

export function secondsUntil(at: number, now: number, maxSeconds = 60): number {
  return Math.min(maxSeconds, Math.max(1, Math.ceil((at - now) / 1000)));
}
