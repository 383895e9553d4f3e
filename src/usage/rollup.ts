/**
 * Usage rolled up per minute, key and model: what a key object batches up between flushes and
 * what a tenant's usage object stores. Adding is commutative, so batches may arrive in any
 * order and a row read at hour or day granularity is just the sum of its minutes.
 */
export const GRANULARITY_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Granularity = keyof typeof GRANULARITY_MS;

/** How one call ended, as the usage tables count it. */
export type CallClass = 'ok' | 'client_error' | 'rate_limited' | 'server_error' | 'aborted';

export interface UsageEvent {
  at: number;
  keyId: string;
  model: string;
  callClass: CallClass;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Time to the first byte of the answer; null when none came. */
  ttftMs: number | null;
  durationMs: number;
}

export interface UsageRow {
  /** Start of the bucket, epoch ms, a multiple of the granularity. */
  start: number;
  keyId: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  clientErrors: number;
  rateLimited: number;
  serverErrors: number;
  aborted: number;
  ttftMsSum: number;
  ttftCount: number;
  durationMsSum: number;
}

export function classifyCall(status: number, aborted: boolean): CallClass {
  if (aborted) return 'aborted';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'ok';
}

export function bucketStart(at: number, granularity: Granularity): number {
  const size = GRANULARITY_MS[granularity];
  return Math.floor(at / size) * size;
}

export function emptyRow(start: number, keyId: string, model: string): UsageRow {
  return {
    start,
    keyId,
    model,
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    clientErrors: 0,
    rateLimited: 0,
    serverErrors: 0,
    aborted: 0,
    ttftMsSum: 0,
    ttftCount: 0,
    durationMsSum: 0,
  };
}

/** Adds one call to the minute row it belongs to (created when missing). */
export function addUsageEvent(rows: Map<string, UsageRow>, event: UsageEvent): void {
  const start = bucketStart(event.at, 'minute');
  const id = `${start}|${event.keyId}|${event.model}`;
  const row = rows.get(id) ?? emptyRow(start, event.keyId, event.model);
  rows.set(id, row);
  row.requests += 1;
  row.promptTokens += event.promptTokens;
  row.completionTokens += event.completionTokens;
  row.cachedTokens += event.cachedTokens;
  if (event.callClass === 'client_error') row.clientErrors += 1;
  if (event.callClass === 'rate_limited') row.rateLimited += 1;
  if (event.callClass === 'server_error') row.serverErrors += 1;
  if (event.callClass === 'aborted') row.aborted += 1;
  if (event.ttftMs !== null) {
    row.ttftMsSum += event.ttftMs;
    row.ttftCount += 1;
  }
  row.durationMsSum += event.durationMs;
}

/** The numeric columns, in one place, for the SQL that stores and sums rows. */
export const USAGE_COUNTERS = [
  'requests',
  'promptTokens',
  'completionTokens',
  'cachedTokens',
  'clientErrors',
  'rateLimited',
  'serverErrors',
  'aborted',
  'ttftMsSum',
  'ttftCount',
  'durationMsSum',
] as const satisfies ReadonlyArray<keyof UsageRow>;
