/** A pool's whole decision: health before policy, strict sessions, honest refusals, the baselines. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLOSED, DEFAULT_BREAKER_SETTINGS, type BreakerState } from '../../src/routing/circuit-breaker.ts';
import { decidePick, type PickInput, type PoolEngineState } from '../../src/routing/pick.ts';
import { ROUTING_POLICIES } from '../../src/routing/policies.ts';

const NOW = 1_000_000;

function engine(engineKey: string, fields: Partial<PoolEngineState> = {}): PoolEngineState {
  return {
    engineKey,
    available: true,
    running: 0,
    waiting: 0,
    kvCacheUsage: 0,
    maxConcurrency: 4,
    inflight: 0,
    leasesSinceReport: 0,
    reportedAt: NOW,
    breaker: CLOSED,
    meanLeaseMs: null,
    ...fields,
  };
}

function input(fields: Partial<PickInput> = {}): PickInput {
  return {
    policy: 'affinity',
    now: NOW,
    staleAfterMs: 10_000,
    overcommit: 2,
    heartbeatIntervalMs: 5_000,
    turn: 0,
    exclude: new Set(),
    prefixMatches: new Map(),
    ...fields,
  };
}

const open: BreakerState = {
  state: 'open',
  until: NOW + 3_500,
  coolDownMs: DEFAULT_BREAKER_SETTINGS.coolDownMs,
};

describe('decidePick: health before policy', () => {
  it('refuses with unknown_model when the pool has no engines', () => {
    expect(decidePick([], input())).toEqual({ ok: false, reason: 'unknown_model', retryAfterSeconds: 0 });
  });

  it('never picks an unavailable (draining, unhealthy, not ready) or excluded engine, under any policy', () => {
    const engines = [engine('draining', { available: false }), engine('failed'), engine('ok')];
    for (const policy of ROUTING_POLICIES) {
      for (let turn = 0; turn < 6; turn++) {
        const decision = decidePick(engines, input({ policy, turn, exclude: new Set(['failed']) }));
        expect(decision).toMatchObject({ ok: true, engineKey: 'ok' });
      }
    }
  });

  it('keeps engines behind an open breaker out, and says when the first one half-opens', () => {
    expect(decidePick([engine('a', { breaker: open }), engine('b')], input())).toMatchObject({
      engineKey: 'b',
    });
    expect(decidePick([engine('a', { breaker: open })], input())).toEqual({
      ok: false,
      reason: 'no_available_engine',
      retryAfterSeconds: 4,
    });
  });

  it('waits for the next heartbeat when nothing is available', () => {
    expect(decidePick([engine('a', { available: false })], input())).toEqual({
      ok: false,
      reason: 'no_available_engine',
      retryAfterSeconds: 5,
    });
  });

  it('refuses past every cap with a retry-after from how fast leases come back', () => {
    // 8 leases out on a 4-slot engine (overcommit 2) lasting 20 s on average: one ends every 2.5 s.
    const full = engine('a', { inflight: 8, meanLeaseMs: 20_000 });
    expect(decidePick([full], input())).toEqual({
      ok: false,
      reason: 'engines_saturated',
      retryAfterSeconds: 3,
    });
    expect(decidePick([engine('a', { inflight: 8 })], input())).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('ranks an engine whose report is stale after a busy engine with a fresh one', () => {
    const stale = engine('stale', { reportedAt: NOW - 60_000 });
    const unreported = engine('unreported', { reportedAt: null });
    // Busy with traffic the pool did not send (no leases out), so the load bound does not decide.
    const busy = engine('busy', { running: 3 });
    for (let i = 0; i < 20; i++) {
      expect(decidePick([stale, unreported, busy], input())).toMatchObject({ engineKey: 'busy' });
    }
  });
});

describe('decidePick: sessions', () => {
  it('keeps a strict session on its engine even past the load bound, under any policy', () => {
    const engines = [engine('home', { inflight: 5 }), engine('idle')];
    for (const policy of ROUTING_POLICIES) {
      const decision = decidePick(engines, input({ policy, session: { engineKey: 'home', strict: true } }));
      expect(decision).toEqual({ ok: true, engineKey: 'home', reason: 'strict-session' });
    }
  });

  it('refuses a strict session whose engine is gone, unavailable, failed or full, rather than moving it', () => {
    const strict = { engineKey: 'home', strict: true };
    expect(decidePick([engine('other')], input({ session: strict }))).toMatchObject({
      ok: false,
      reason: 'session_engine_gone',
    });
    for (const home of [engine('home', { available: false }), engine('home', { breaker: open })]) {
      expect(decidePick([home, engine('other')], input({ session: strict }))).toMatchObject({
        ok: false,
        reason: 'session_engine_unavailable',
      });
    }
    expect(
      decidePick([engine('home'), engine('other')], input({ session: strict, exclude: new Set(['home']) })),
    ).toMatchObject({ ok: false, reason: 'session_engine_unavailable' });
    expect(
      decidePick([engine('home', { inflight: 8 }), engine('other')], input({ session: strict })),
    ).toMatchObject({
      ok: false,
      reason: 'engines_saturated',
    });
  });

  it('places a new strict session like any request', () => {
    const decision = decidePick(
      [engine('busy', { running: 4 }), engine('idle')],
      input({ session: { strict: true } }),
    );
    expect(decision).toMatchObject({ ok: true, engineKey: 'idle' });
  });

  it('lets an ordinary session move when its engine is past the bound', () => {
    const engines = [engine('home', { inflight: 6 }), engine('idle')];
    const decision = decidePick(engines, input({ session: { engineKey: 'home', strict: false } }));
    expect(decision).toMatchObject({ ok: true, engineKey: 'idle' });
  });
});

describe('decidePick: baselines', () => {
  it('round-robin cycles through the engines in a fixed order', () => {
    const engines = [engine('c'), engine('a'), engine('b')];
    const picks = [0, 1, 2, 3, 4, 5].map(
      (turn) =>
        (decidePick(engines, input({ policy: 'round-robin', turn })) as { engineKey: string }).engineKey,
    );
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('min-expected-latency (LMDeploy) picks the fewest leases out per slot, ignoring reports and prefixes', () => {
    const engines = [
      engine('reported-idle-but-leased', { inflight: 3 }),
      engine('reported-busy', { running: 4, inflight: 1, maxConcurrency: 4 }),
    ];
    const decision = decidePick(
      engines,
      input({ policy: 'min-expected-latency', prefixMatches: new Map([['reported-idle-but-leased', 9]]) }),
    );
    expect(decision).toMatchObject({ engineKey: 'reported-busy' });
  });

  it('random and every other policy pick only among allowed engines, for any fleet', () => {
    const fleet = fc.array(
      fc.record({
        available: fc.boolean(),
        inflight: fc.nat({ max: 10 }),
        breaker: fc.constantFrom<BreakerState>(CLOSED, open),
      }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(fleet, fc.constantFrom(...ROUTING_POLICIES), fc.nat(), (fields, policy, turn) => {
        const engines = fields.map((f, i) => engine(`e${i}`, f));
        const decision = decidePick(engines, input({ policy, turn }));
        const allowed = engines.filter((e) => e.available && e.breaker === CLOSED && e.inflight < 8);
        if (allowed.length === 0) expect(decision.ok).toBe(false);
        else expect(allowed.map((e) => e.engineKey)).toContain((decision as { engineKey: string }).engineKey);
      }),
    );
  });
});
