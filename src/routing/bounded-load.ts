/**
 * The load bound of consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
 * 2018): after a grant, no engine holds more than ⌈(1+ε) × its share⌉ of the leases out, its
 * share being the total (this one included) weighted by its capacity. Affinity may concentrate
 * work only up to there; past it a hot prefix spills over. Because the shares add up to more
 * than the leases out, some candidate is always under its bound.
 */
import type { Candidate } from './least-loaded.ts';

/** At most 25% over the fair share: enough room for affinity, little enough to stay balanced. */
export const DEFAULT_LOAD_EPSILON = 0.25;

/** The candidates that may take one more lease without breaking the bound. */
export function underLoadBound<T extends Candidate>(
  candidates: readonly T[],
  epsilon = DEFAULT_LOAD_EPSILON,
): T[] {
  let leasesOut = 0;
  let capacity = 0;
  for (const engine of candidates) {
    leasesOut += engine.inflight;
    capacity += engine.maxConcurrency;
  }
  // inflight + 1 ≤ ⌈x⌉ ⟺ inflight < x, with x = (1+ε)(leasesOut+1)·maxConcurrency/capacity;
  // cross-multiplied so no rounding decides.
  return candidates.filter(
    (engine) => engine.inflight * capacity < (1 + epsilon) * (leasesOut + 1) * engine.maxConcurrency,
  );
}
