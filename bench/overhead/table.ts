/** Plain-text tables for the benchmarks' printed reports: first column left-aligned, the rest right. */
export function printTable(title: string, header: string[], rows: string[][]): void {
  const table = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length)));
  console.log(`\n${title}`);
  for (const row of table) {
    console.log(
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join(' | ')
        .trimEnd(),
    );
  }
}

export const fixed = (digits: number) => (value: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

export const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');

export const percent = (value: number) => (Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '–');

/** Mean and spread of per-round values, e.g. `0.54× (0.51–0.57)`. */
export function spread(values: number[], format: (value: number) => string = times): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  const mean = finite.reduce((sum, v) => sum + v, 0) / finite.length;
  if (finite.length === 1) return format(mean);
  return `${format(mean)} (${format(Math.min(...finite)).replace('×', '')}–${format(Math.max(...finite))})`;
}
