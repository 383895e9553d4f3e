/** How a pool chooses among engines: least expected load, then fewest leases out, then at random. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leastLoaded, type Candidate } from '../../src/routing/least-loaded.ts';

function engine(engineKey: string, load: Partial<Omit<Candidate, 'engineKey'>> = {}): Candidate {
  return { engineKey, running: 0, waiting: 0, maxConcurrency: 8, inflight: 0, leasesSinceReport: 0, ...load };
}

/**
 * Compares expected load, (running + waiting + leasesSinceReport) / maxConcurrency, exactly:
 * by cross-multiplying, so the oracle does not share the implementation's floating point.
 */
function compareLoad(a: Candidate, b: Candidate): number {
  return (
    (a.running + a.waiting + a.leasesSinceReport) * b.maxConcurrency -
    (b.running + b.waiting + b.leasesSinceReport) * a.maxConcurrency
  );
}

// Fleets of a few dozen engines with up to 4096 slots each (large enough that a load difference
// of 1/4096 must still beat any number of leases out),
// and at most maxConcurrency × 2 leases out (the gateway's ENGINE_OVERCOMMIT). The "crowded"
// variant draws from few values so that ties in load, and in leases out, are common.
const candidate = (max: { queue: number; slots: number; sinceReport: number }) =>
  fc
    .record({
      running: fc.nat({ max: max.queue }),
      waiting: fc.nat({ max: max.queue }),
      maxConcurrency: fc.integer({ min: 1, max: max.slots }),
      leasesSinceReport: fc.nat({ max: max.sinceReport }),
      inflightShare: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ inflightShare, ...load }) => ({
      ...load,
      inflight: Math.max(load.leasesSinceReport, Math.floor(inflightShare * (load.maxConcurrency * 2 - 1))),
    }));
const candidates = fc
  .oneof(
    fc.array(candidate({ queue: 300, slots: 4096, sinceReport: 64 }), { minLength: 1, maxLength: 24 }),
    fc.array(candidate({ queue: 3, slots: 2, sinceReport: 1 }), { minLength: 1, maxLength: 24 }),
  )
  .map((list) => list.map((load, i) => engine(`node-${i}/engine`, load)));

describe('leastLoaded', () => {
  it('returns undefined when there is nothing to choose from', () => {
    expect(leastLoaded([])).toBeUndefined();
  });

  it('always returns one of the candidates it was given', () => {
    fc.assert(
      fc.property(candidates, (list) => {
        expect(list).toContain(leastLoaded(list));
      }),
    );
  });

  it('picks the lowest expected load, and among equal loads the fewest leases out', () => {
    fc.assert(
      fc.property(candidates, (list) => {
        const chosen = leastLoaded(list)!;
        for (const other of list) {
          const byLoad = compareLoad(chosen, other);
          expect(byLoad).toBeLessThanOrEqual(0);
          if (byLoad === 0) expect(chosen.inflight).toBeLessThanOrEqual(other.inflight);
        }
      }),
    );
  });

  it('counts leases granted since the last report as load', () => {
    const reported = engine('a', { running: 2 });
    const busySinceReport = engine('b', { running: 0, leasesSinceReport: 3, inflight: 3 });
    expect(leastLoaded([busySinceReport, reported])).toBe(reported);
  });

  it('weighs load by capacity', () => {
    const small = engine('small', { running: 3, maxConcurrency: 4 });
    const big = engine('big', { running: 10, maxConcurrency: 64 });
    expect(leastLoaded([small, big])).toBe(big);
  });

  it('never lets leases out outweigh a real difference in load, however large the engines', () => {
    const lighter = engine('a', { running: 1, maxConcurrency: 1000, inflight: 1999 });
    const heavier = engine('b', { running: 1, maxConcurrency: 999, inflight: 0 });
    expect(leastLoaded([lighter, heavier])).toBe(lighter);
  });

  it('breaks a tie in load by fewer leases out', () => {
    const busier = engine('busier', { running: 4, inflight: 3 });
    const idler = engine('idler', { running: 4, inflight: 1 });
    for (let i = 0; i < 50; i++) expect(leastLoaded([busier, idler])).toBe(idler);
  });

  it('spreads picks among engines tied on load and leases out', () => {
    const tied = ['a', 'b', 'c', 'd'].map((key) => engine(key, { running: 1, inflight: 2 }));
    const list = [
      engine('loaded', { running: 5 }),
      ...tied,
      engine('more-inflight', { running: 1, inflight: 3 }),
    ];
    const counts = new Map<string, number>();
    const rounds = 2000;
    for (let i = 0; i < rounds; i++) {
      const key = leastLoaded(list)!.engineKey;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    // Each tied engine expects 500 picks (sd ≈ 19); 350 is eight deviations off.
    for (const key of ['a', 'b', 'c', 'd']) expect(counts.get(key)).toBeGreaterThan(350);
  });
});
