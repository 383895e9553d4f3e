/**
 * An engine the agent does not launch: it already listens at `url` (or 127.0.0.1:port).
 * Readiness asks only for the model list, because not every OpenAI-compatible server has a
 * /health route (Ollama has none). Load is read from /metrics with whichever known engine's
 * names the page carries, told apart by their prefixes.
 */
import type { EngineLoad } from '../../src/protocol/node-api.ts';
import type { EngineAdapter } from './engine-adapter.ts';
import { EngineScrapeError, listsServedModel } from './engine-http.ts';
import { LMDEPLOY_LOAD_METRICS } from './lmdeploy.ts';
import { readLlamaCppLoad } from './llamacpp.ts';
import { readLoad, scrapeMetricsPage } from './load-metrics.ts';
import type { MetricFamily } from './prometheus.ts';
import { SGLANG_LOAD_METRICS, sglangTotalsOnly } from './sglang.ts';
import { VLLM_LOAD_METRICS } from './vllm.ts';

function hasPrefix(families: MetricFamily[], prefix: string): boolean {
  return families.some((family) => family.name.startsWith(prefix));
}

async function readKnownEngineLoad(
  families: MetricFamily[],
  baseUrl: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<EngineLoad> {
  if (hasPrefix(families, 'vllm:')) return readLoad(families, VLLM_LOAD_METRICS);
  if (hasPrefix(families, 'sglang:')) return readLoad(families, SGLANG_LOAD_METRICS, sglangTotalsOnly);
  if (hasPrefix(families, 'lmdeploy:')) return readLoad(families, LMDEPLOY_LOAD_METRICS);
  if (hasPrefix(families, 'llamacpp:')) return readLlamaCppLoad(families, baseUrl, apiKey, signal);
  throw new EngineScrapeError(
    'metric_missing',
    'the /metrics page has no vLLM, SGLang, LMDeploy or llama.cpp metrics',
  );
}

export const externalAdapter: EngineAdapter = {
  kind: 'external',
  binary: null,
  launchCommand() {
    return null;
  },
  async probeReady(baseUrl, engine, apiKey, signal) {
    try {
      return await listsServedModel(baseUrl, engine, apiKey, signal);
    } catch {
      return false;
    }
  },
  async scrapeLoad(baseUrl, apiKey, signal) {
    return readKnownEngineLoad(await scrapeMetricsPage(baseUrl, apiKey, signal), baseUrl, apiKey, signal);
  },
  routes: () => undefined,
};
