/**
 * Turns an engine's /metrics page into the normalized load the gateway routes on.
 *
 * An engine may report one series per label set: vLLM and LMDeploy label each data-parallel
 * rank (`engine`), SGLang each scheduler (`tp_rank`, `pp_rank`). Request counts add up across
 * them; the KV-cache share is averaged, because each rank reports the share of its own
 * equally sized cache (summing two half-full ranks would claim a full engine).
 */
import type { EngineLoad } from '../../src/protocol/node-api.ts';
import type { EngineAdapter } from './engine-adapter.ts';
import { EngineScrapeError, getEngineText } from './engine-http.ts';
import { findSamples, parsePrometheusText, type MetricFamily, type MetricLabels } from './prometheus.ts';

/** Which series of a page count; engines that break a gauge down by label keep only the total. */
export type SeriesFilter = (labels: MetricLabels) => boolean;

const everySeries: SeriesFilter = () => true;

export interface LoadMetricNames {
  running: string;
  waiting: string;
  /** Tried in order, the first present wins: engines renamed their KV gauge over time. */
  kvCacheUsage: readonly string[];
}

export function parseMetricsPage(text: string): MetricFamily[] {
  try {
    return parsePrometheusText(text);
  } catch (error) {
    throw new EngineScrapeError('bad_payload', 'the /metrics page is not Prometheus text', { cause: error });
  }
}

function selectedValues(families: MetricFamily[], name: string, include: SeriesFilter): number[] | null {
  const samples = findSamples(families, name)?.filter((sample) => include(sample.labels));
  if (!samples || samples.length === 0) return null;
  const values = samples.map((sample) => sample.value);
  if (values.some((value) => !Number.isFinite(value))) {
    throw new EngineScrapeError('bad_payload', `${name} is not a finite number`);
  }
  return values;
}

/** The sum of `name` over its series, never below zero; throws when the page lacks it. */
export function sumSeries(
  families: MetricFamily[],
  name: string,
  include: SeriesFilter = everySeries,
): number {
  const values = selectedValues(families, name, include);
  if (!values) throw new EngineScrapeError('metric_missing', `the /metrics page has no ${name}`);
  return Math.max(
    0,
    values.reduce((total, value) => total + value, 0),
  );
}

/** The mean of the first of `names` the page has, or null when it has none of them. */
export function meanOfFirstPresent(
  families: MetricFamily[],
  names: readonly string[],
  include: SeriesFilter = everySeries,
): number | null {
  for (const name of names) {
    const values = selectedValues(families, name, include);
    if (values) return values.reduce((total, value) => total + value, 0) / values.length;
  }
  return null;
}

/** Engines round and lag; the protocol wants a share within 0..1. */
export function clampShare(share: number): number {
  return Math.min(1, Math.max(0, share));
}

/** The load from a page whose engine reports all three figures as gauges. */
export function readLoad(
  families: MetricFamily[],
  names: LoadMetricNames,
  include: SeriesFilter = everySeries,
): EngineLoad {
  const kvCacheUsage = meanOfFirstPresent(families, names.kvCacheUsage, include);
  if (kvCacheUsage === null) {
    throw new EngineScrapeError(
      'metric_missing',
      `the /metrics page has none of ${names.kvCacheUsage.join(', ')}`,
    );
  }
  return {
    running: sumSeries(families, names.running, include),
    waiting: sumSeries(families, names.waiting, include),
    kvCacheUsage: clampShare(kvCacheUsage),
  };
}

/** GETs the engine's /metrics page and parses it. */
export async function scrapeMetricsPage(
  baseUrl: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<MetricFamily[]> {
  return parseMetricsPage(await getEngineText(baseUrl, '/metrics', apiKey, signal));
}

/** The `scrapeLoad` of an engine whose /metrics page carries all three figures as gauges. */
export function gaugeLoadScraper(
  names: LoadMetricNames,
  include: SeriesFilter = everySeries,
): EngineAdapter['scrapeLoad'] {
  return async (baseUrl, apiKey, signal) =>
    readLoad(await scrapeMetricsPage(baseUrl, apiKey, signal), names, include);
}
