/**
 * llama.cpp's `llama-server`. /metrics exists only with `--metrics`; unlike vLLM it sits behind
 * the API key, as does /slots (only /health and the model list are public). `-np` sets the
 * parallel slots, so it is the engine's capacity. Its gauges carry no labels. Builds up to
 * 2025 also exported `llamacpp:kv_cache_usage_ratio`; current builds dropped it, so the KV
 * share then comes from GET /slots (on by default, `--no-slots` turns it off): tokens held in
 * each slot's cache over each slot's context.
 * Source: tools/server/server-task.cpp (`to_metrics`), server-context.cpp (slot `to_json`),
 * server-http.cpp (`public_endpoints`), tools/server/README.md. The API key goes in LLAMA_API_KEY,
 * the environment variable behind `--api-key` (common/arg.cpp: `set_env("LLAMA_API_KEY")`).
 */
import { z } from 'zod';
import type { EngineLoad } from '../../src/protocol/node-api.ts';
import type { EngineAdapter } from './engine-adapter.ts';
import { LLAMACPP_ROUTES } from './engine-routes.ts';
import { EngineScrapeError, getEngineJson, probeHealthAndModel } from './engine-http.ts';
import { ENGINE_HOST, launchWith } from './launch.ts';
import { clampShare, meanOfFirstPresent, scrapeMetricsPage, sumSeries } from './load-metrics.ts';
import type { MetricFamily } from './prometheus.ts';

export const LLAMACPP_RUNNING = 'llamacpp:requests_processing';
export const LLAMACPP_WAITING = 'llamacpp:requests_deferred';
export const LLAMACPP_KV_RATIO = 'llamacpp:kv_cache_usage_ratio';

// A slot that never ran a task has no `n_prompt_tokens`: its cache is empty.
const SlotsSchema = z
  .array(
    z.looseObject({ n_ctx: z.number().positive(), n_prompt_tokens: z.number().nonnegative().optional() }),
  )
  .min(1);

/**
 * The share of the slots' context held by cached tokens. With a unified KV buffer each slot
 * reports the whole context as its own, so this understates use by the slot count; it still
 * orders engines correctly, which is what routing needs.
 */
export function kvShareFromSlots(payload: unknown): number {
  const parsed = SlotsSchema.safeParse(payload);
  if (!parsed.success) {
    throw new EngineScrapeError('bad_payload', 'GET /slots did not return a list of slots', {
      cause: parsed.error,
    });
  }
  let held = 0;
  let context = 0;
  for (const slot of parsed.data) {
    held += Math.min(slot.n_prompt_tokens ?? 0, slot.n_ctx);
    context += slot.n_ctx;
  }
  return held / context;
}

export async function readLlamaCppLoad(
  families: MetricFamily[],
  baseUrl: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<EngineLoad> {
  const running = sumSeries(families, LLAMACPP_RUNNING);
  const waiting = sumSeries(families, LLAMACPP_WAITING);
  const ratio = meanOfFirstPresent(families, [LLAMACPP_KV_RATIO]);
  const kvCacheUsage = ratio ?? kvShareFromSlots(await getEngineJson(baseUrl, '/slots', apiKey, signal));
  return { running, waiting, kvCacheUsage: clampShare(kvCacheUsage) };
}

export const llamacppAdapter: EngineAdapter = {
  kind: 'llamacpp',
  binary: 'llama-server',
  launchCommand(engine, apiKey) {
    return launchWith(
      engine,
      'llama-server',
      [
        '-m',
        engine.model,
        '--host',
        ENGINE_HOST,
        '--port',
        String(engine.port),
        '--alias',
        engine.servedModelName,
        '--metrics',
        '-np',
        String(engine.maxConcurrency),
      ],
      { LLAMA_API_KEY: apiKey },
    );
  },
  probeReady: probeHealthAndModel,
  async scrapeLoad(baseUrl, apiKey, signal) {
    return readLlamaCppLoad(await scrapeMetricsPage(baseUrl, apiKey, signal), baseUrl, apiKey, signal);
  },
  routes: () => LLAMACPP_ROUTES,
};
