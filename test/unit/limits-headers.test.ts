/** Limits as configured (schema, key over tenant) and as told to clients (OpenAI's headers). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, retryAfterHeaders } from '../../src/limits/headers.ts';
import type { RateLimitStatus } from '../../src/limits/limiter.ts';
import { effectiveLimits, LimitsSchema } from '../../src/limits/limits.ts';
import { formatResetDuration } from '../../src/limits/reset-duration.ts';

describe('LimitsSchema', () => {
  it('takes positive whole limits up to 1e12, all optional', () => {
    expect(LimitsSchema.parse({})).toEqual({});
    expect(
      LimitsSchema.parse({ rpm: 60, tpm: 1e12, concurrency: 4, tokensPerDay: 1, tokensPerMonth: 9 }),
    ).toEqual({
      rpm: 60,
      tpm: 1e12,
      concurrency: 4,
      tokensPerDay: 1,
      tokensPerMonth: 9,
    });
  });

  it.each([
    { rpm: 0 },
    { rpm: -1 },
    { tpm: 1.5 },
    { tpm: 1e12 + 1 },
    { rpm: '60' },
    { rpm: null },
    { rph: 5 },
  ])('refuses %j', (limits) => {
    expect(LimitsSchema.safeParse(limits).success).toBe(false);
  });
});

describe('effectiveLimits', () => {
  it('takes each field from the key if set, else from the tenant', () => {
    expect(effectiveLimits({ rpm: 10 }, { rpm: 100, tpm: 1000 })).toEqual({ rpm: 10, tpm: 1000 });
    expect(effectiveLimits({ rpm: 10, rpm2: 1 } as never, undefined)).toEqual({ rpm: 10 });
    expect(effectiveLimits(undefined, { concurrency: 2 })).toEqual({ concurrency: 2 });
    expect(effectiveLimits(undefined, undefined)).toEqual({});
    expect(effectiveLimits({ tpm: undefined }, { tpm: 5 })).toEqual({ tpm: 5 });
  });

  it('leaves out fields set on neither', () => {
    const result = effectiveLimits({ rpm: 1 }, {});
    expect(Object.keys(result)).toEqual(['rpm']);
  });
});

describe('formatResetDuration', () => {
  it.each([
    [0, '0ms'],
    [1, '1ms'],
    [20, '20ms'],
    [120, '120ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1001, '1.001s'],
    [1010, '1.01s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [361_500, '6m1.5s'],
    [3_600_000, '1h0m0s'],
    [3_723_000, '1h2m3s'],
    [90_061_250, '25h1m1.25s'],
    [0.2, '1ms'],
    [999.5, '1s'],
    [-5, '0s'],
    [Number.NaN, '0s'],
    [Number.POSITIVE_INFINITY, '0s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });

  it('reads back to the milliseconds it was given', () => {
    const parse = (text: string) => {
      if (text.endsWith('ms')) return Number(text.slice(0, -2));
      const match = /^(?:(\d+)h)?(?:(\d+)m)?([\d.]+)s$/.exec(text)!;
      return Math.round(
        (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3])) * 1000,
      );
    };
    fc.assert(
      fc.property(fc.nat({ max: 400_000_000 }), (ms) => {
        expect(parse(formatResetDuration(ms))).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });
});

describe('rateLimitHeaders', () => {
  const none: RateLimitStatus = {
    limitRequests: null,
    remainingRequests: null,
    resetRequestsMs: null,
    limitTokens: null,
    remainingTokens: null,
    resetTokensMs: null,
  };

  it('sends all six when both limits are set', () => {
    expect(
      rateLimitHeaders({
        limitRequests: 60,
        remainingRequests: 59,
        resetRequestsMs: 1000,
        limitTokens: 150_000,
        remainingTokens: 149_984,
        resetTokensMs: 6,
      }),
    ).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-tokens': '149984',
      'x-ratelimit-reset-tokens': '6ms',
    });
  });

  it('sends nothing for limits that are not set', () => {
    expect(rateLimitHeaders(none)).toEqual({});
    expect(
      rateLimitHeaders({ ...none, limitTokens: 10, remainingTokens: 0, resetTokensMs: 360_000 }),
    ).toEqual({
      'x-ratelimit-limit-tokens': '10',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '6m0s',
    });
  });
});

describe('retryAfterHeaders', () => {
  it.each([
    [1, '1', '1'],
    [999, '1', '999'],
    [1000, '1', '1000'],
    [1001, '2', '1001'],
    [41_000.2, '42', '41001'],
    [0, '1', '1'],
    [-3, '1', '1'],
    [Number.NaN, '1', '1'],
  ])('%d ms → retry-after %s, retry-after-ms %s', (ms, seconds, millis) => {
    expect(retryAfterHeaders(ms)).toEqual({ 'retry-after': seconds, 'retry-after-ms': millis });
  });
});
