/**
 * How a pool chooses among available engines. Least expected load: the engine's last
 * reported queue (running + waiting) plus the leases this pool granted since that report,
 * relative to its capacity. Ties go to the engine with fewer leases out, then at random so
 * that equal engines share a burst.
 */
export interface Candidate {
  engineKey: string;
  running: number;
  waiting: number;
  maxConcurrency: number;
  inflight: number;
  leasesSinceReport: number;
}

function expectedLoad(engine: Candidate): number {
  return (engine.running + engine.waiting + engine.leasesSinceReport) / engine.maxConcurrency;
}

export function leastLoaded<T extends Candidate>(candidates: T[]): T | undefined {
  let best: T[] = [];
  let bestScore = Infinity;
  for (const engine of candidates) {
    const score = expectedLoad(engine) + engine.inflight * 1e-9;
    if (score < bestScore) {
      best = [engine];
      bestScore = score;
    } else if (score === bestScore) {
      best.push(engine);
    }
  }
  return best[Math.floor(Math.random() * best.length)];
}
