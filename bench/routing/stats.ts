/**
 * Summaries of a cell (one load level under one policy): its measured windows pooled, so a
 * burst of noise from elsewhere on the machine in one window weighs as one window among several.
 */
import type { LoadResult } from './load-run.ts';

/** One measured window: what the clients saw, and what the engines' prefix caches counted. */
export interface Window {
  load: LoadResult;
  prefixQueries: number;
  prefixHits: number;
}

export interface Summary {
  meanTtftMs: number;
  p99TtftMs: number;
  tokensPerSecond: number;
  hitRate: number;
  turns: number;
  refusals: number;
  failures: number;
}

/** Nearest-rank percentile. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function summarize(windows: readonly Window[]): Summary {
  const sorted = windows.flatMap((w) => w.load.ttftMs).sort((a, b) => a - b);
  const sum = (pick: (w: Window) => number) => windows.reduce((total, w) => total + pick(w), 0);
  const queries = sum((w) => w.prefixQueries);
  return {
    meanTtftMs: sorted.length === 0 ? NaN : sorted.reduce((total, ms) => total + ms, 0) / sorted.length,
    p99TtftMs: percentile(sorted, 0.99),
    tokensPerSecond: sum((w) => w.load.completionTokens) / sum((w) => w.load.windowSeconds),
    hitRate: queries === 0 ? 0 : sum((w) => w.prefixHits) / queries,
    turns: sum((w) => w.load.turns),
    refusals: sum((w) => w.load.refusals),
    failures: sum((w) => w.load.failures.length),
  };
}
