/** The load bound of consistent hashing with bounded loads, and the affinity policy under it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseByAffinity } from '../../src/routing/affinity.ts';
import { DEFAULT_LOAD_EPSILON, underLoadBound } from '../../src/routing/bounded-load.ts';
import type { RoutingCandidate } from '../../src/routing/candidate.ts';
import { candidate, fleets } from './routing-support.ts';

/** After one more lease, the engine holds at most ⌈(1+ε) × its capacity-weighted share⌉. */
function withinBound(engine: RoutingCandidate, fleet: readonly RoutingCandidate[], epsilon: number): boolean {
  const leasesOut = fleet.reduce((sum, e) => sum + e.inflight, 0);
  const capacity = fleet.reduce((sum, e) => sum + e.maxConcurrency, 0);
  const share = ((leasesOut + 1) * engine.maxConcurrency) / capacity;
  return engine.inflight + 1 <= Math.ceil((1 + epsilon) * share - 1e-9);
}

/** Any request: a session on any engine (or none), any prefix matches. */
const requests = (fleet: RoutingCandidate[]) =>
  fc.record({
    sessionEngine: fc.option(fc.constantFrom(...fleet.map((e) => e.engineKey)), { nil: undefined }),
    prefixMatches: fc
      .array(fc.tuple(fc.constantFrom(...fleet.map((e) => e.engineKey)), fc.integer({ min: 1, max: 512 })))
      .map((pairs) => new Map(pairs)),
    epsilon: fc.constantFrom(0, 0.1, DEFAULT_LOAD_EPSILON, 1),
  });

describe('bounded loads', () => {
  it('always leaves some engine under the bound', () => {
    fc.assert(
      fc.property(fleets, fc.double({ min: 0, max: 2, noNaN: true }), (fleet, epsilon) => {
        expect(underLoadBound(fleet, epsilon).length).toBeGreaterThan(0);
      }),
    );
  });

  it('affinity always chooses, and never an engine past (1+ε) × its share, for any input', () => {
    fc.assert(
      fc.property(
        fleets.chain((fleet) => fc.tuple(fc.constant(fleet), requests(fleet))),
        ([fleet, request]) => {
          const chosen = chooseByAffinity(fleet, request);
          expect(chosen).toBeDefined();
          expect(withinBound(chosen!.engine, fleet, request.epsilon)).toBe(true);
        },
      ),
    );
  });

  it('keeps any sequence of affinity picks balanced: no engine ends above (1+ε) × the mean', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat({ max: 7 }), { minLength: 1, maxLength: 200 }),
        (engines, hotEngines) => {
          // Every request's prefix lives on one engine (mostly the same few): the worst case for balance.
          const fleet = Array.from({ length: engines }, (_, i) => candidate(`e${i}`));
          for (const hot of hotEngines) {
            const prefixMatches = new Map([[`e${hot % engines}`, 10]]);
            const { engine } = chooseByAffinity(fleet, { prefixMatches })!;
            engine.inflight += 1;
            const mean = fleet.reduce((sum, e) => sum + e.inflight, 0) / engines;
            expect(engine.inflight).toBeLessThanOrEqual(Math.ceil((1 + DEFAULT_LOAD_EPSILON) * mean));
          }
        },
      ),
    );
  });
});

describe('affinity', () => {
  const fleet = () => [candidate('a'), candidate('b'), candidate('c')];

  it("goes to the session's engine first", () => {
    const chosen = chooseByAffinity(fleet(), { sessionEngine: 'b', prefixMatches: new Map([['c', 9]]) });
    expect(chosen).toMatchObject({ engine: { engineKey: 'b' }, reason: 'session' });
  });

  it('goes where the longest prefix is cached', () => {
    const chosen = chooseByAffinity(fleet(), {
      prefixMatches: new Map([
        ['a', 3],
        ['c', 7],
      ]),
    });
    expect(chosen).toMatchObject({ engine: { engineKey: 'c' }, reason: 'prefix' });
  });

  it('spills a hot prefix once its engine is past the bound, to the next-longest holder', () => {
    const engines = [
      candidate('a', { inflight: 6 }),
      candidate('b', { inflight: 1 }),
      candidate('c', { inflight: 1 }),
    ];
    // 8 out over 24 slots: a's bound is ⌈1.25 × 9/3⌉ = 4.
    const chosen = chooseByAffinity(engines, {
      prefixMatches: new Map([
        ['a', 9],
        ['b', 2],
      ]),
    });
    expect(chosen).toMatchObject({ engine: { engineKey: 'b' }, reason: 'prefix' });
  });

  it('without a match, takes the least expected latency: a fast engine over a slow one', () => {
    const engines = [
      candidate('slow', { meanLeaseMs: 3000, running: 1 }),
      candidate('fast', { meanLeaseMs: 1000, running: 2 }),
    ];
    expect(chooseByAffinity(engines, { prefixMatches: new Map() })).toMatchObject({
      engine: { engineKey: 'fast' },
      reason: 'least-latency',
    });
  });

  it('ranks an engine with a stale report after those with a fresh one, even when it says idle', () => {
    const engines = [
      candidate('stale', { reportFresh: false }),
      candidate('busy', { running: 6, inflight: 1 }),
    ];
    for (let i = 0; i < 20; i++) {
      expect(chooseByAffinity(engines, { prefixMatches: new Map() })?.engine.engineKey).toBe('busy');
    }
  });

  it('counts a nearly full KV cache as load even with batch slots free', () => {
    const engines = [candidate('full-kv', { kvCacheUsage: 0.95 }), candidate('roomy', { running: 4 })];
    expect(chooseByAffinity(engines, { prefixMatches: new Map() })?.engine.engineKey).toBe('roomy');
  });
});
