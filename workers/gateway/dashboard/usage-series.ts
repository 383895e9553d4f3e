/**
 * Usage rows (per bucket, key and model) turned into what the pages draw: a value per bucket
 * for a chart (empty buckets are zero, or a gap for averages), totals, and top lists. Pure.
 */
import { GRANULARITY_MS, type Granularity, type UsageRow } from '../../../src/usage/rollup.ts';
import type { TenantUsageRow } from './types.ts';

export interface Span {
  from: number;
  to: number;
  granularity: Granularity;
}

export const RANGES = {
  '1h': { label: 'Last hour', ms: 3_600_000, granularity: 'minute' },
  '24h': { label: 'Last 24 hours', ms: 86_400_000, granularity: 'hour' },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000, granularity: 'hour' },
  '30d': { label: 'Last 30 days', ms: 30 * 86_400_000, granularity: 'day' },
  '90d': { label: 'Last 90 days', ms: 90 * 86_400_000, granularity: 'day' },
} as const satisfies Record<string, { label: string; ms: number; granularity: Granularity }>;
export type RangeId = keyof typeof RANGES;

/** At most this many buckets in one chart; a finer granularity over a longer range is coarsened. */
export const MAX_BUCKETS = 1500;

export function isRange(value: string | undefined): value is RangeId {
  return value !== undefined && Object.hasOwn(RANGES, value);
}

/** Whole buckets ending with the one that holds `now`, covering `range`. */
export function spanOf(
  range: RangeId,
  now: number,
  granularity: Granularity = RANGES[range].granularity,
): Span {
  let g = granularity;
  while (g !== 'day' && RANGES[range].ms / GRANULARITY_MS[g] > MAX_BUCKETS)
    g = g === 'minute' ? 'hour' : 'day';
  const size = GRANULARITY_MS[g];
  const to = Math.floor(now / size) * size + size;
  return { from: Math.max(0, to - Math.ceil(RANGES[range].ms / size) * size), to, granularity: g };
}

export function bucketStarts(span: Span): number[] {
  const size = GRANULARITY_MS[span.granularity];
  const starts: number[] = [];
  for (let at = span.from; at < span.to; at += size) starts.push(at);
  return starts;
}

/** One value per bucket: the sum of `value` over the rows in it (0 for an empty bucket). */
export function sumSeries(rows: UsageRow[], span: Span, value: (row: UsageRow) => number): number[] {
  const starts = bucketStarts(span);
  const index = new Map(starts.map((start, i) => [start, i]));
  const sums = starts.map(() => 0);
  for (const row of rows) {
    const i = index.get(row.start);
    if (i !== undefined) sums[i]! += value(row);
  }
  return sums;
}

/** Mean time to first token per bucket; null where no call had a first token. */
export function ttftSeries(rows: UsageRow[], span: Span): Array<number | null> {
  const sums = sumSeries(rows, span, (row) => row.ttftMsSum);
  const counts = sumSeries(rows, span, (row) => row.ttftCount);
  return sums.map((sum, i) => (counts[i]! > 0 ? sum / counts[i]! : null));
}

export interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
  /** Client errors, rate-limited calls and server errors together. */
  errors: number;
  serverErrors: number;
  ttftMs: number | null;
  durationMs: number | null;
}

export function totalsOf(rows: UsageRow[]): Totals {
  const sum = (value: (row: UsageRow) => number) => rows.reduce((total, row) => total + value(row), 0);
  const requests = sum((r) => r.requests);
  const ttftCount = sum((r) => r.ttftCount);
  const promptTokens = sum((r) => r.promptTokens);
  const completionTokens = sum((r) => r.completionTokens);
  return {
    requests,
    promptTokens,
    completionTokens,
    tokens: promptTokens + completionTokens,
    errors: sum((r) => r.clientErrors + r.rateLimited + r.serverErrors),
    serverErrors: sum((r) => r.serverErrors),
    ttftMs: ttftCount > 0 ? sum((r) => r.ttftMsSum) / ttftCount : null,
    durationMs: requests > 0 ? sum((r) => r.durationMsSum) / requests : null,
  };
}

export type Dimension = 'key' | 'model' | 'tenant';

export function dimensionOf(row: TenantUsageRow, by: Dimension): string {
  return by === 'key' ? row.keyId : by === 'model' ? row.model : row.tenantId;
}

/** Rows grouped by a dimension, busiest first. */
export function groupTotals(
  rows: TenantUsageRow[],
  by: Dimension,
): Array<{ group: string; rows: TenantUsageRow[]; totals: Totals }> {
  const groups = new Map<string, TenantUsageRow[]>();
  for (const row of rows) {
    const group = dimensionOf(row, by);
    const members = groups.get(group);
    if (members) members.push(row);
    else groups.set(group, [row]);
  }
  return [...groups]
    .map(([group, members]) => ({ group, rows: members, totals: totalsOf(members) }))
    .sort((a, b) => b.totals.requests - a.totals.requests || b.totals.tokens - a.totals.tokens);
}

/** Rows summed per bucket and group, newest bucket first, busiest group first within it. */
export function bucketGroupRows(
  rows: TenantUsageRow[],
  by: Dimension,
): Array<{ start: number; group: string; totals: Totals }> {
  const cells = new Map<string, { start: number; group: string; rows: UsageRow[] }>();
  for (const row of rows) {
    const group = dimensionOf(row, by);
    const id = `${row.start}\u0000${group}`;
    const cell = cells.get(id) ?? { start: row.start, group, rows: [] };
    cell.rows.push(row);
    cells.set(id, cell);
  }
  return [...cells.values()]
    .map((cell) => ({ start: cell.start, group: cell.group, totals: totalsOf(cell.rows) }))
    .sort((a, b) => b.start - a.start || b.totals.requests - a.totals.requests);
}
