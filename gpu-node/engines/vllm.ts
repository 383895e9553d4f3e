/**
 * vLLM's OpenAI server (`vllm serve`). Load gauges carry `model_name` and, since the V1 engine,
 * `engine` (one series per data-parallel rank). The KV gauge was renamed in 0.9
 * (`gpu_cache_usage_perc` → `kv_cache_usage_perc`, the old name deprecated and later hidden),
 * so both names are read, the new one first. Source: vllm/v1/metrics/loggers.py.
 * The API key goes in VLLM_API_KEY, which `vllm serve` reads when `--api-key` is absent
 * (`args.api_key or envs.VLLM_API_KEY`, vllm/entrypoints/openai/api_server.py, vllm/envs.py).
 */
import type { EngineAdapter } from './engine-adapter.ts';
import { VLLM_ROUTES } from './engine-routes.ts';
import { probeHealthAndModel } from './engine-http.ts';
import { ENGINE_HOST, launchWith } from './launch.ts';
import { gaugeLoadScraper, type LoadMetricNames } from './load-metrics.ts';

export const VLLM_LOAD_METRICS: LoadMetricNames = {
  running: 'vllm:num_requests_running',
  waiting: 'vllm:num_requests_waiting',
  kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
};

export const vllmAdapter: EngineAdapter = {
  kind: 'vllm',
  binary: 'vllm',
  launchCommand(engine, apiKey) {
    return launchWith(
      engine,
      'vllm',
      [
        'serve',
        engine.model,
        '--host',
        ENGINE_HOST,
        '--port',
        String(engine.port),
        '--served-model-name',
        engine.servedModelName,
      ],
      { VLLM_API_KEY: apiKey },
    );
  },
  probeReady: probeHealthAndModel,
  scrapeLoad: gaugeLoadScraper(VLLM_LOAD_METRICS),
  routes: () => VLLM_ROUTES,
};
