import { describe, expect, it } from 'vitest';
import { emptyRow } from '../../src/usage/rollup.ts';
import {
  bucketGroupRows,
  bucketStarts,
  groupTotals,
  spanOf,
  sumSeries,
  totalsOf,
  ttftSeries,
} from '../../workers/gateway/dashboard/usage-series.ts';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 10, 22, 12, 30, 15);

function row(start: number, keyId: string, model: string, fields: Partial<ReturnType<typeof emptyRow>> = {}) {
  return { tenantId: 'tn_a', ...emptyRow(start, keyId, model), ...fields };
}

describe('usage series for the dashboard’s charts', () => {
  it('covers the range in whole buckets, ending with the one that holds now', () => {
    const span = spanOf('1h', NOW);
    expect(span.granularity).toBe('minute');
    expect(span.to).toBe(Date.UTC(2026, 10, 22, 12, 31));
    expect(bucketStarts(span)).toHaveLength(60);
    expect(bucketStarts(span)[0]).toBe(span.from);
  });

  it('coarsens a granularity that would draw too many buckets', () => {
    expect(spanOf('90d', NOW, 'minute').granularity).toBe('day');
    expect(spanOf('7d', NOW, 'minute').granularity).toBe('hour');
    expect(spanOf('24h', NOW, 'minute').granularity).toBe('minute');
  });

  it('sums rows into their bucket, zero where nothing happened, and leaves TTFT gaps empty', () => {
    const span = spanOf('1h', NOW);
    const last = span.to - MINUTE;
    const rows = [
      row(last, 'k1', 'm', { requests: 2, ttftMsSum: 300, ttftCount: 2 }),
      row(last, 'k2', 'm', { requests: 1, ttftMsSum: 600, ttftCount: 1 }),
      row(span.from - MINUTE, 'k1', 'm', { requests: 9 }),
    ];
    const requests = sumSeries(rows, span, (r) => r.requests);
    expect(requests.at(-1)).toBe(3);
    expect(requests.slice(0, -1).every((v) => v === 0)).toBe(true);
    const ttft = ttftSeries(rows, span);
    expect(ttft.at(-1)).toBe(300);
    expect(ttft.at(-2)).toBeNull();
  });

  it('totals errors of every kind and means over the calls that had a first token', () => {
    const totals = totalsOf([
      row(0, 'k', 'm', {
        requests: 4,
        clientErrors: 1,
        rateLimited: 1,
        serverErrors: 1,
        ttftMsSum: 100,
        ttftCount: 1,
        durationMsSum: 400,
      }),
    ]);
    expect(totals).toMatchObject({ requests: 4, errors: 3, serverErrors: 1, ttftMs: 100, durationMs: 100 });
    expect(totalsOf([]).ttftMs).toBeNull();
  });

  it('groups by key, model or tenant, busiest first, and per bucket newest first', () => {
    const rows = [
      row(0, 'quiet', 'a', { requests: 1 }),
      row(MINUTE, 'busy', 'a', { requests: 5 }),
      row(0, 'busy', 'b', { requests: 2 }),
    ];
    expect(groupTotals(rows, 'key').map((g) => [g.group, g.totals.requests])).toEqual([
      ['busy', 7],
      ['quiet', 1],
    ]);
    expect(groupTotals(rows, 'tenant')).toHaveLength(1);
    expect(bucketGroupRows(rows, 'model').map((r) => [r.start, r.group, r.totals.requests])).toEqual([
      [MINUTE, 'a', 5],
      [0, 'b', 2],
      [0, 'a', 1],
    ]);
  });
});
