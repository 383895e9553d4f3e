/**
 * The `least-loaded` policy (the pool's only policy before `affinity`, kept as a baseline):
 * the engine's last reported queue (running + waiting) plus the leases this pool granted since
 * that report, relative to its capacity. Ties go to the engine with fewer leases out, then at
 * random so that equal engines share a burst.
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

/** Negative when `a` is the better pick: lower expected load first, then fewer leases out. */
function compare(a: Candidate, b: Candidate): number {
  return expectedLoad(a) - expectedLoad(b) || a.inflight - b.inflight;
}

export function leastLoaded<T extends Candidate>(candidates: T[]): T | undefined {
  let best: T[] = [];
  for (const engine of candidates) {
    const order = best.length === 0 ? -1 : compare(engine, best[0]!);
    if (order < 0) best = [engine];
    else if (order === 0) best.push(engine);
  }
  return best[Math.floor(Math.random() * best.length)];
}
