/** The benchmark's printed tables: per load level, each policy's figures and its ratios to a baseline row. */
import type { Summary } from './stats.ts';

export type Results = Map<number, Map<string, Summary>>;

const fixed = (digits: number) => (value: number) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/** Ratios: the baseline's TTFT ÷ the row's (times lower); the row's tokens/s and hit rate ÷ the baseline's. */
export function printTable(
  title: string,
  rows: Array<[string, Summary]>,
  baseline: Summary | undefined,
): void {
  const header = [
    'policy',
    'mean TTFT ms',
    'p99 TTFT ms',
    'tokens/s',
    'turns',
    'prefix hits',
    'mean TTFT ×',
    'p99 TTFT ×',
    'tokens/s ×',
    'hits ×',
    'waited 429/503',
    'failed',
  ];
  const table = [
    header,
    ...rows.map(([name, s]) => [
      name,
      fixed(0)(s.meanTtftMs),
      fixed(0)(s.p99TtftMs),
      fixed(1)(s.tokensPerSecond),
      String(s.turns),
      percent(s.hitRate),
      times(baseline ? baseline.meanTtftMs / s.meanTtftMs : NaN),
      times(baseline ? baseline.p99TtftMs / s.p99TtftMs : NaN),
      times(baseline ? s.tokensPerSecond / baseline.tokensPerSecond : NaN),
      times(baseline ? s.hitRate / baseline.hitRate : NaN),
      String(s.refusals),
      String(s.failures),
    ]),
  ];
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  console.log(`\n${title}`);
  for (const row of table) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | '),
    );
  }
}
