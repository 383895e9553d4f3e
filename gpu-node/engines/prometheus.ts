/**
 * A typed face for `parse-prometheus-text-format` (its module declaration is in
 * parse-prometheus-text-format.d.ts beside this file). It parses the Prometheus text exposition
 * format (what every engine's /metrics serves) into metric families. A static import, so the
 * agent's bundle (gpu-node/build.ts) carries the parser inside it.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export type MetricLabels = Record<string, string>;

/** One sample of a gauge, counter or untyped family; values stay strings ("1.0", "NaN", "+Inf"). */
export interface ScalarSample {
  value: string;
  labels?: MetricLabels;
}

/** One histogram or summary series; the load adapters never read these, they only skip them. */
export interface DistributionSample {
  labels?: MetricLabels;
  buckets?: Record<string, string>;
  quantiles?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'UNTYPED' | 'HISTOGRAM' | 'SUMMARY';
  metrics: Array<ScalarSample | DistributionSample>;
}

/** Parses a /metrics page; throws the library's InvalidLineError on malformed lines. */
export function parsePrometheusText(text: string): MetricFamily[] {
  return parsePrometheusTextFormat(text) as MetricFamily[];
}

/** A sample of one series, its value as a number. */
export interface Sample {
  value: number;
  labels: MetricLabels;
}

/**
 * The scalar samples of the family called `name`, or null when the page has no such family.
 * A family declared by `# TYPE` but with no samples yet counts as absent: there is nothing to read.
 */
export function findSamples(families: MetricFamily[], name: string): Sample[] | null {
  const family = families.find((candidate) => candidate.name === name);
  if (!family) return null;
  const samples: Sample[] = [];
  for (const metric of family.metrics) {
    if (!('value' in metric)) continue;
    samples.push({ value: Number(metric.value), labels: metric.labels ?? {} });
  }
  return samples.length > 0 ? samples : null;
}
