/**
 * The limiter against a brute-force model: every request kept in a list, every window and
 * period summed from scratch at each step. The model is the specification — 61 one-second
 * buckets (a request admitted in second s counts through second s + 60), UTC days and months —
 * and an exact 60 s window, checked alongside, must never hold more than the limits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter, type AdmitResult, type LimiterSnapshot } from '../../src/limits/limiter.ts';
import type { LimitName, Limits } from '../../src/limits/limits.ts';

const DAY = 86_400_000;
const ORDER: LimitName[] = ['concurrency', 'rpm', 'tpm', 'tokensPerDay', 'tokensPerMonth'];

const sec = (ms: number) => Math.floor(ms / 1000);
const dayOf = (ms: number) => Math.floor(ms / DAY);
const monthOf = (ms: number) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth();

/** Through JSON, as a Durable Object's storage would carry it. */
function roundTrip(limiter: Limiter): Limiter {
  return new Limiter(JSON.parse(JSON.stringify(limiter.snapshot())) as LimiterSnapshot);
}

const snap = (limiter: Limiter) => JSON.stringify(limiter.snapshot());

/** `expect(actual).toEqual(expected)`, cheap enough for a hot loop: only a mismatch reaches `expect`. */
function same(actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
}

interface ModelRequest {
  id: string;
  at: number;
  tokens: number;
  open: boolean;
}

class Model {
  readonly requests: ModelRequest[] = [];

  private inBuckets(now: number): ModelRequest[] {
    return this.requests.filter((r) => sec(r.at) >= sec(now) - 60);
  }

  /** The limit that refuses `tokens` at `now`, in check order, or undefined. */
  refusal(tokens: number, now: number, limits: Limits): LimitName | undefined {
    const window = this.inBuckets(now);
    const windowTokens = sum(window.map((r) => r.tokens));
    const day = sum(this.requests.filter((r) => dayOf(r.at) === dayOf(now)).map((r) => r.tokens));
    const month = sum(this.requests.filter((r) => monthOf(r.at) === monthOf(now)).map((r) => r.tokens));
    if (limits.concurrency && this.requests.filter((r) => r.open).length >= limits.concurrency) {
      return 'concurrency';
    }
    if (limits.rpm && window.length + 1 > limits.rpm) return 'rpm';
    if (limits.tpm && windowTokens + tokens > limits.tpm) return 'tpm';
    if (limits.tokensPerDay && day + tokens > limits.tokensPerDay) return 'tokensPerDay';
    if (limits.tokensPerMonth && month + tokens > limits.tokensPerMonth) return 'tokensPerMonth';
    return undefined;
  }

  /** What an exact 60 s window ending at `now` holds: (now − 60 s, now]. */
  exactWindow(now: number): { requests: number; tokens: number } {
    const inside = this.requests.filter((r) => r.at > now - 60_000 && r.at <= now);
    return { requests: inside.length, tokens: sum(inside.map((r) => r.tokens)) };
  }

  status(now: number, limits: Limits) {
    const window = this.inBuckets(now);
    const lastSecond = (pick: (r: ModelRequest) => boolean) => {
      const seconds = window.filter(pick).map((r) => sec(r.at));
      return seconds.length ? (Math.max(...seconds) + 61) * 1000 - now : 0;
    };
    return {
      limitRequests: limits.rpm ?? null,
      remainingRequests: limits.rpm ? Math.max(0, limits.rpm - window.length) : null,
      resetRequestsMs: limits.rpm ? lastSecond(() => true) : null,
      limitTokens: limits.tpm ?? null,
      remainingTokens: limits.tpm ? Math.max(0, limits.tpm - sum(window.map((r) => r.tokens))) : null,
      resetTokensMs: limits.tpm ? lastSecond((r) => r.tokens > 0) : null,
    };
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

type Op =
  | { kind: 'admit'; dt: number; tokens: number }
  | { kind: 'settle'; dt: number; pick: number; open: boolean; actual: number }
  | { kind: 'reap'; dt: number; age: number }
  | { kind: 'roundTrip'; dt: number };

// Steps of every scale: the same instant, within a second, across the minute, across days.
const dt = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 1_500 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 * DAY }) },
);
const tokens = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 150 }) },
  { weight: 1, arbitrary: fc.nat({ max: 600 }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('admit'), dt, tokens }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('settle'),
      dt,
      pick: fc.nat(),
      // Mostly an open reservation; else any id ever used, or one never used.
      open: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      actual: fc.oneof(fc.nat({ max: 60 }), fc.nat({ max: 600 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reap'), dt, age: fc.nat({ max: 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roundTrip'), dt }) },
);
/** Mostly room for several requests; sometimes so little that a single request cannot fit. */
const mostlyAbove = (low: number, high: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: low, max: high }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: low }) },
  );
const limitsArb: fc.Arbitrary<Limits> = fc
  .record(
    {
      rpm: fc.integer({ min: 1, max: 40 }),
      tpm: mostlyAbove(200, 3_000),
      concurrency: fc.integer({ min: 1, max: 12 }),
      tokensPerDay: mostlyAbove(1_000, 30_000),
      tokensPerMonth: mostlyAbove(5_000, 150_000),
    },
    { requiredKeys: [] },
  )
  .map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as Limits);
// 2001–2035, so day and month boundaries (and leap years) come up.
const start = fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2035, 0, 1) });

/** Probes a copy: the same request at `at`. */
function probe(limiter: Limiter, id: string, tokens: number, at: number, limits: Limits): AdmitResult {
  return roundTrip(limiter).admit({ id, tokens, now: at }, limits);
}

/**
 * Runs `ops` against a limiter (serialized and restored at each `roundTrip` step), a twin that
 * is never serialized, and the model, checking after every step that all three agree.
 */
function runAgainstModel(limits: Limits, t0: number, ops: Op[]): void {
  const twin = new Limiter(); // never serialized: must stay in lockstep with `limiter`
  let limiter = new Limiter();
  const model = new Model();
  let now = t0;
  let next = 0;
  for (const step of ops) {
    now += step.dt;
    if (step.kind === 'admit') {
      const id = `r${next++}`;
      const before = snap(limiter);
      const result = limiter.admit({ id, tokens: step.tokens, now }, limits);
      same(twin.admit({ id, tokens: step.tokens, now }, limits), result);
      same(result.ok ? undefined : result.limit, model.refusal(step.tokens, now, limits));
      if (result.ok) {
        model.requests.push({ id, at: now, tokens: step.tokens, open: true });
        const exact = model.exactWindow(now);
        if (limits.rpm && exact.requests > limits.rpm) expect(exact.requests).toBeLessThanOrEqual(limits.rpm);
        if (limits.tpm && exact.tokens > limits.tpm) expect(exact.tokens).toBeLessThanOrEqual(limits.tpm);
      } else {
        same(snap(limiter), before); // a refusal changes nothing
        if (!Number.isInteger(result.retryAfterMs) || result.retryAfterMs < 1) {
          expect.fail(`retryAfterMs ${result.retryAfterMs}`);
        }
        checkRetry(limiter, id, step.tokens, now, limits, result.limit, result.retryAfterMs);
      }
      same(result.status, model.status(now, limits));
    } else if (step.kind === 'settle') {
      // Mostly an open reservation; else any id ever used, or one never used — no-ops both.
      const open = model.requests.filter((r) => r.open);
      const id = step.open && open.length ? open[step.pick % open.length]!.id : `r${step.pick % (next + 1)}`;
      const request = model.requests.find((r) => r.id === id && r.open);
      const before = snap(limiter);
      const settled = limiter.settle(id, step.actual, now);
      same(twin.settle(id, step.actual, now), settled);
      same(settled, request !== undefined);
      if (request) {
        request.open = false;
        request.tokens = step.actual;
      } else {
        same(snap(limiter), before);
      }
    } else if (step.kind === 'reap') {
      const cutoff = now - step.age;
      const reaped = limiter.reapSilentSince(cutoff, now);
      same(twin.reapSilentSince(cutoff, now), reaped);
      const stale = model.requests.filter((r) => r.open && r.at <= cutoff);
      same(reaped.length, stale.length);
      for (const r of stale) r.open = false; // settled with what they reserved
    } else {
      limiter = roundTrip(limiter);
    }
    const open = model.requests.filter((r) => r.open).length;
    same([limiter.inflight(), limiter.openReservations()], [open, open]);
    same(limiter.status(limits, now), model.status(now, limits));
    same(twin.status(limits, now), limiter.status(limits, now));
    if (limiter.snapshot().buckets.length > 61) expect.fail('more than 61 buckets');
  }
}

describe('Limiter against a brute-force model', () => {
  it('admits exactly what the model admits, and never more than the limits in any exact 60 s window', () => {
    fc.assert(
      fc.property(limitsArb, start, fc.array(op, { minLength: 10, maxLength: 120 }), runAgainstModel),
      { numRuns: 400 },
    );
  });

  it('keeps the sliding minute exact under sustained traffic (rpm and tpm only)', () => {
    const busy = fc.array(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({ kind: fc.constant('admit'), dt: fc.nat({ max: 3_000 }), tokens }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant('settle'),
            dt: fc.nat({ max: 3_000 }),
            pick: fc.nat(),
            open: fc.constant(true),
            actual: fc.nat({ max: 300 }),
          }),
        },
      ),
      { minLength: 50, maxLength: 200 },
    );
    const limits = fc.record({
      rpm: fc.integer({ min: 5, max: 60 }),
      tpm: fc.integer({ min: 500, max: 5_000 }),
    });
    fc.assert(fc.property(limits, start, busy, runAgainstModel), { numRuns: 150 });
  });
});

/**
 * After `retryAfterMs` the limit that refused has room for this very request (it may still be
 * refused by a later limit in the check order); one millisecond earlier it has not.
 */
function checkRetry(
  limiter: Limiter,
  id: string,
  tokens: number,
  now: number,
  limits: Limits,
  limit: LimitName,
  retryAfterMs: number,
): void {
  if (limit === 'concurrency') return same(retryAfterMs, 1000);
  const neverFits =
    (limit === 'tpm' && tokens > limits.tpm!) ||
    (limit === 'tokensPerDay' && tokens > limits.tokensPerDay!) ||
    (limit === 'tokensPerMonth' && tokens > limits.tokensPerMonth!);
  if (neverFits) {
    if (limit === 'tpm') same(limiter.status(limits, now + retryAfterMs).remainingTokens, limits.tpm);
    return;
  }
  const early = probe(limiter, id, tokens, now + retryAfterMs - 1, limits);
  same(early.ok ? undefined : early.limit, limit);
  const onTime = probe(limiter, id, tokens, now + retryAfterMs, limits);
  if (!onTime.ok && ORDER.indexOf(onTime.limit) <= ORDER.indexOf(limit)) {
    expect.fail(`still refused by ${onTime.limit} after ${retryAfterMs} ms (was ${limit})`);
  }
}

describe('Limiter: requests at one instant', () => {
  const n = fc.integer({ min: 0, max: 1000 });
  const l = fc.integer({ min: 1, max: 1000 });

  it('admits exactly min(N, rpm), and tells the rest to come back when that second leaves the window', () => {
    fc.assert(
      fc.property(n, l, start, (count, rpm, now) => {
        const limiter = new Limiter();
        let admitted = 0;
        const refusals = new Set<string>();
        for (let i = 0; i < count; i++) {
          const result = limiter.admit({ id: `r${i}`, tokens: 1, now }, { rpm });
          if (result.ok) admitted++;
          else refusals.add(`${result.limit} ${result.retryAfterMs}`);
        }
        same([...refusals], count > rpm ? [`rpm ${(sec(now) + 61) * 1000 - now}`] : []);
        expect(admitted).toBe(Math.min(count, rpm));
        expect(limiter.status({ rpm }, now).remainingRequests).toBe(rpm - admitted);
      }),
      { numRuns: 300 },
    );
  });

  it('admits exactly min(N, concurrency), refusing the rest with 1000 ms', () => {
    fc.assert(
      fc.property(n, l, start, (count, concurrency, now) => {
        const limiter = new Limiter();
        let admitted = 0;
        const refusals = new Set<string>();
        for (let i = 0; i < count; i++) {
          const result = limiter.admit({ id: `r${i}`, tokens: 1, now }, { concurrency });
          if (result.ok) admitted++;
          else refusals.add(`${result.limit} ${result.retryAfterMs}`);
        }
        same([...refusals], count > concurrency ? ['concurrency 1000'] : []);
        expect(admitted).toBe(Math.min(count, concurrency));
        expect(limiter.inflight()).toBe(admitted);
      }),
      { numRuns: 300 },
    );
  });

  it('admits a set whose tokens never exceed tpm, refusing only what does not fit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 500 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 5_000 }),
        start,
        (estimates, tpm, now) => {
          const limiter = new Limiter();
          let total = 0;
          estimates.forEach((tokens, i) => {
            const result = limiter.admit({ id: `r${i}`, tokens, now }, { tpm });
            if (result.ok) total += tokens;
            else {
              expect(result.limit).toBe('tpm');
              expect(total + tokens).toBeGreaterThan(tpm);
            }
            expect(total).toBeLessThanOrEqual(tpm);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Limiter: rpm and tpm', () => {
  const T = Date.UTC(2025, 5, 1, 12, 0, 0);

  it('counts a request through second s + 60, and lets it go at s + 61', () => {
    const limiter = new Limiter();
    expect(limiter.admit({ id: 'a', tokens: 0, now: T + 999 }, { rpm: 1 }).ok).toBe(true);
    const refused = limiter.admit({ id: 'b', tokens: 0, now: T + 60_998 }, { rpm: 1 });
    expect(refused).toMatchObject({ ok: false, limit: 'rpm', retryAfterMs: 2 });
    expect(limiter.admit({ id: 'b', tokens: 0, now: T + 60_999 }, { rpm: 1 }).ok).toBe(false);
    expect(limiter.admit({ id: 'b', tokens: 0, now: T + 61_000 }, { rpm: 1 }).ok).toBe(true);
  });

  it('waits for as many seconds to leave as the request needs tokens', () => {
    const limiter = new Limiter();
    const limits = { tpm: 100 };
    limiter.admit({ id: 'a', tokens: 30, now: T }, limits);
    limiter.admit({ id: 'b', tokens: 30, now: T + 10_000 }, limits);
    limiter.admit({ id: 'c', tokens: 30, now: T + 20_000 }, limits);
    // 90 counted; 70 more needs a and b gone: b's second leaves at T + 71 s.
    const refused = limiter.admit({ id: 'd', tokens: 70, now: T + 30_000 }, limits);
    expect(refused).toMatchObject({ ok: false, limit: 'tpm', retryAfterMs: 41_000 });
  });

  it('moves settled tokens within the bucket of admission, freeing capacity at once', () => {
    const limiter = new Limiter();
    const limits = { tpm: 100 };
    expect(limiter.admit({ id: 'a', tokens: 100, now: T }, limits).ok).toBe(true);
    expect(limiter.admit({ id: 'b', tokens: 10, now: T + 30_000 }, limits).ok).toBe(false);
    expect(limiter.settle('a', 20, T + 30_000)).toBe(true);
    expect(limiter.status(limits, T + 30_000)).toMatchObject({ remainingTokens: 80, resetTokensMs: 31_000 });
    expect(limiter.admit({ id: 'b', tokens: 80, now: T + 30_000 }, limits).ok).toBe(true);
    // a's 20 leave with a's second, b's 80 with b's.
    expect(limiter.status(limits, T + 61_000).remainingTokens).toBe(20);
  });

  it('refuses a request larger than tpm until the window is empty, and it never fits', () => {
    const limiter = new Limiter();
    limiter.admit({ id: 'a', tokens: 5, now: T }, { tpm: 100 });
    const refused = limiter.admit({ id: 'big', tokens: 101, now: T + 1_000 }, { tpm: 100 });
    expect(refused).toMatchObject({ ok: false, limit: 'tpm', retryAfterMs: 60_000 });
    expect(limiter.admit({ id: 'big', tokens: 101, now: T + 61_000 }, { tpm: 100 })).toMatchObject({
      ok: false,
      limit: 'tpm',
      retryAfterMs: 1,
    });
  });

  it('reports overshoot (actual above the limit) as none remaining, never negative', () => {
    const limiter = new Limiter();
    limiter.admit({ id: 'a', tokens: 10, now: T }, { tpm: 100 });
    limiter.settle('a', 500, T + 1);
    expect(limiter.status({ tpm: 100 }, T + 1)).toMatchObject({ remainingTokens: 0, resetTokensMs: 60_999 });
    expect(limiter.admit({ id: 'b', tokens: 0, now: T + 2 }, { tpm: 100 })).toMatchObject({
      ok: false,
      limit: 'tpm',
    });
  });

  it('gives null status fields for limits that are not set, and full capacity when idle', () => {
    const limiter = new Limiter();
    expect(limiter.status({}, T)).toEqual({
      limitRequests: null,
      remainingRequests: null,
      resetRequestsMs: null,
      limitTokens: null,
      remainingTokens: null,
      resetTokensMs: null,
    });
    expect(limiter.status({ rpm: 5, tpm: 50 }, T)).toEqual({
      limitRequests: 5,
      remainingRequests: 5,
      resetRequestsMs: 0,
      limitTokens: 50,
      remainingTokens: 50,
      resetTokensMs: 0,
    });
  });

  it('keeps at most a window of buckets whatever the traffic', () => {
    const limiter = new Limiter();
    for (let i = 0; i < 5_000; i++) limiter.admit({ id: `r${i}`, tokens: 1, now: T + i * 137 }, {});
    expect(limiter.snapshot().buckets.length).toBeLessThanOrEqual(61);
  });

  it('checks in the order concurrency, rpm, tpm, tokensPerDay, tokensPerMonth', () => {
    const limiter = new Limiter();
    const all = { concurrency: 1, rpm: 1, tpm: 1, tokensPerDay: 1, tokensPerMonth: 1 };
    expect(limiter.admit({ id: 'a', tokens: 1, now: T }, all).ok).toBe(true);
    const refuse = (limits: Limits) => {
      const result = limiter.admit({ id: 'b', tokens: 1, now: T }, limits);
      return result.ok ? 'ok' : result.limit;
    };
    expect(refuse(all)).toBe('concurrency');
    expect(refuse({ ...all, concurrency: 2 })).toBe('rpm');
    expect(refuse({ ...all, concurrency: 2, rpm: 2 })).toBe('tpm');
    expect(refuse({ ...all, concurrency: 2, rpm: 2, tpm: 2 })).toBe('tokensPerDay');
    expect(refuse({ ...all, concurrency: 2, rpm: 2, tpm: 2, tokensPerDay: 2 })).toBe('tokensPerMonth');
    expect(refuse({ concurrency: 2, rpm: 2, tpm: 2, tokensPerDay: 2, tokensPerMonth: 2 })).toBe('ok');
  });
});

describe('Limiter: settle, reap, duplicate ids', () => {
  const T = Date.UTC(2025, 5, 1, 12, 0, 0);

  it('settles once: a second settle, or an unknown id, returns false and changes nothing', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), (tokens, a, b) => {
        const limiter = new Limiter();
        limiter.admit({ id: 'x', tokens, now: T }, { tpm: 10_000 });
        expect(limiter.settle('x', a, T + 5)).toBe(true);
        const after = snap(limiter);
        expect(limiter.settle('x', b, T + 6)).toBe(false);
        expect(limiter.settle('nope', b, T + 6)).toBe(false);
        expect(snap(limiter)).toBe(after);
        expect(limiter.status({ tpm: 10_000 }, T + 6).remainingTokens).toBe(10_000 - a);
      }),
      { numRuns: 200 },
    );
  });

  it('reaps reservations taken at or before the cutoff: slots freed, reserved tokens kept', () => {
    const limiter = new Limiter();
    const limits = { concurrency: 3, tpm: 1_000 };
    limiter.admit({ id: 'a', tokens: 100, now: T }, limits);
    limiter.admit({ id: 'b', tokens: 100, now: T + 1_000 }, limits);
    limiter.admit({ id: 'c', tokens: 100, now: T + 2_000 }, limits);
    expect(limiter.admit({ id: 'd', tokens: 1, now: T + 3_000 }, limits)).toMatchObject({
      ok: false,
      limit: 'concurrency',
    });
    expect(limiter.reapSilentSince(T + 1_000, T + 3_000)).toEqual(['a', 'b']);
    expect(limiter.inflight()).toBe(1);
    expect(limiter.status(limits, T + 3_000).remainingTokens).toBe(700);
    expect(limiter.settle('a', 5, T + 3_000)).toBe(false); // already settled by the reaper
    expect(limiter.admit({ id: 'd', tokens: 1, now: T + 3_000 }, limits).ok).toBe(true);
    expect(limiter.reapSilentSince(T - 1, T + 3_000)).toEqual([]);
  });

  it('keeps a renewed reservation past the cutoff, and reaps it once its renewals stop', () => {
    const limiter = new Limiter();
    const limits = { concurrency: 2 };
    limiter.admit({ id: 'long', tokens: 10, now: T }, limits);
    limiter.admit({ id: 'dead', tokens: 10, now: T }, limits);
    expect(limiter.renew('long', T + 5_000)).toBe(true);
    expect(limiter.renew('gone', T + 5_000)).toBe(false);
    expect(limiter.reapSilentSince(T + 1_000, T + 16_000)).toEqual(['dead']);
    expect(limiter.settle('dead', 10, T + 16_000)).toBe(false);
    // The renewal survives the snapshot the key's object stores.
    const restored = new Limiter(limiter.snapshot());
    expect(restored.reapSilentSince(T + 4_999, T + 16_000)).toEqual([]);
    expect(restored.reapSilentSince(T + 5_000, T + 16_000)).toEqual(['long']);
    expect(restored.inflight()).toBe(0);
  });

  it('admits an id that is already open again without counting it twice', () => {
    const limiter = new Limiter();
    const limits = { rpm: 5, concurrency: 5, tpm: 100 };
    limiter.admit({ id: 'a', tokens: 10, now: T }, limits);
    const before = snap(limiter);
    expect(limiter.admit({ id: 'a', tokens: 10, now: T + 1 }, limits).ok).toBe(true);
    expect(snap(limiter)).toBe(before);
    expect(limiter.inflight()).toBe(1);
  });
});

describe('Limiter: daily and monthly quotas', () => {
  const utcDayEnd = (ms: number) => {
    const d = new Date(ms);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  };
  const utcMonthEnd = (ms: number) => {
    const d = new Date(ms);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  };

  it('starts a new day at 00:00Z', () => {
    const limiter = new Limiter();
    const limits = { tokensPerDay: 100 };
    expect(limiter.admit({ id: 'a', tokens: 100, now: Date.parse('2025-03-10T08:00:00Z') }, limits).ok).toBe(
      true,
    );
    const last = Date.parse('2025-03-10T23:59:59.999Z');
    expect(limiter.admit({ id: 'b', tokens: 1, now: last }, limits)).toMatchObject({
      ok: false,
      limit: 'tokensPerDay',
      retryAfterMs: 1,
    });
    expect(limiter.admit({ id: 'b', tokens: 100, now: Date.parse('2025-03-11T00:00:00Z') }, limits).ok).toBe(
      true,
    );
  });

  it('starts a new month on the 1st at 00:00Z, across February and the year', () => {
    for (const [end, next] of [
      ['2024-02-29T23:59:59.999Z', '2024-03-01T00:00:00Z'],
      ['2025-02-28T23:59:59.999Z', '2025-03-01T00:00:00Z'],
      ['2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00Z'],
    ] as const) {
      const limiter = new Limiter();
      const limits = { tokensPerMonth: 1_000 };
      limiter.admit({ id: 'a', tokens: 1_000, now: Date.parse(end) - 20 * DAY }, limits);
      expect(limiter.admit({ id: 'b', tokens: 1, now: Date.parse(end) }, limits)).toMatchObject({
        ok: false,
        limit: 'tokensPerMonth',
        retryAfterMs: 1,
      });
      expect(limiter.admit({ id: 'b', tokens: 1, now: Date.parse(next) }, limits).ok).toBe(true);
    }
  });

  it('settles into the day of admission, not the day of settlement', () => {
    const limiter = new Limiter();
    const limits = { tokensPerDay: 100 };
    limiter.admit({ id: 'a', tokens: 50, now: Date.parse('2025-03-10T23:59:00Z') }, limits);
    limiter.admit({ id: 'b', tokens: 100, now: Date.parse('2025-03-11T00:00:01Z') }, limits);
    limiter.settle('a', 90, Date.parse('2025-03-11T00:00:02Z'));
    // a's tokens belong to the 10th; the 11th holds b's 100 only, and a settle of b to less frees room.
    limiter.settle('b', 60, Date.parse('2025-03-11T00:00:03Z'));
    expect(limiter.admit({ id: 'c', tokens: 40, now: Date.parse('2025-03-11T00:00:04Z') }, limits).ok).toBe(
      true,
    );
  });

  it('refuses until the period ends, and admits from its first millisecond', () => {
    fc.assert(
      fc.property(
        start,
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.boolean(),
        fc.nat({ max: 40 * DAY }),
        (now, quota, monthly, earlier) => {
          const limits: Limits = monthly ? { tokensPerMonth: quota } : { tokensPerDay: quota };
          const limiter = new Limiter();
          const periodStart = monthly
            ? Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1)
            : Math.floor(now / DAY) * DAY;
          const filledAt = Math.max(periodStart, now - earlier);
          expect(limiter.admit({ id: 'fill', tokens: quota, now: filledAt }, limits).ok).toBe(true);
          const refused = limiter.admit({ id: 'x', tokens: 1, now }, limits);
          const end = monthly ? utcMonthEnd(now) : utcDayEnd(now);
          expect(refused).toMatchObject({
            ok: false,
            limit: monthly ? 'tokensPerMonth' : 'tokensPerDay',
            retryAfterMs: end - now,
          });
          expect(probe(limiter, 'x', 1, end - 1, limits).ok).toBe(false);
          expect(probe(limiter, 'x', quota, end, limits).ok).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Limiter: snapshots', () => {
  it('round-trips through JSON into a limiter that behaves identically', () => {
    fc.assert(
      fc.property(
        limitsArb,
        start,
        fc.array(op, { maxLength: 60 }),
        fc.nat({ max: 60 }),
        (limits, t0, ops, at) => {
          let a = new Limiter();
          let now = t0;
          const run = (limiter: Limiter, steps: Op[], from: number, first: number) => {
            const log: unknown[] = [];
            let t = from;
            let next = first;
            for (const step of steps) {
              t += step.dt;
              if (step.kind === 'admit')
                log.push(limiter.admit({ id: `r${next++}`, tokens: step.tokens, now: t }, limits));
              else if (step.kind === 'settle')
                log.push(limiter.settle(`r${step.pick % (next + 1)}`, step.actual, t));
              else if (step.kind === 'reap') log.push(limiter.reapSilentSince(t - step.age, t));
              log.push(limiter.status(limits, t), limiter.inflight(), limiter.openReservations());
            }
            return { log, t, next };
          };
          const head = ops.slice(0, at);
          const tail = ops.slice(at);
          const done = run(a, head, now, 0);
          now = done.t;
          const b = roundTrip(a);
          expect(b.snapshot()).toEqual(a.snapshot());
          expect(run(b, tail, now, done.next).log).toEqual(run(a, tail, now, done.next).log);
          a = b;
          expect(JSON.parse(JSON.stringify(a.snapshot()))).toEqual(a.snapshot());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('starts empty without a snapshot', () => {
    const limiter = new Limiter();
    expect(limiter.inflight()).toBe(0);
    expect(limiter.openReservations()).toBe(0);
    expect(new Limiter(limiter.snapshot()).snapshot()).toEqual(limiter.snapshot());
  });
});
