/**
 * LMDeploy's `api_server`. Its Prometheus metrics arrived in 2025 behind `--enable-metrics`;
 * later releases turned them on by default, replaced the flag with `--disable-metrics`, and
 * reject the old one as an unknown argument. So no flag is passed here: on an older release
 * that still needs it, add `--enable-metrics` to the engine's `args`.
 * Gauges carry `model_name` and `engine` (the data-parallel rank).
 * Source: lmdeploy/metrics/loggers.py, docs/en/advance/metrics.md, InternLM/lmdeploy PR #4108.
 * Run as `python3 -m lmdeploy` (LMDeploy ≥ 0.2) so the key can be handed over inside Python:
 * see python-launch.ts.
 */
import type { EngineAdapter } from './engine-adapter.ts';
import { LMDEPLOY_ROUTES } from './engine-routes.ts';
import { probeHealthAndModel } from './engine-http.ts';
import { ENGINE_HOST } from './launch.ts';
import { gaugeLoadScraper, type LoadMetricNames } from './load-metrics.ts';
import { launchPythonWithKey } from './python-launch.ts';

export const LMDEPLOY_LOAD_METRICS: LoadMetricNames = {
  running: 'lmdeploy:num_requests_running',
  waiting: 'lmdeploy:num_requests_waiting',
  kvCacheUsage: ['lmdeploy:gpu_cache_usage_perc'],
};

export const lmdeployAdapter: EngineAdapter = {
  kind: 'lmdeploy',
  binary: 'python3',
  pythonModule: 'lmdeploy',
  launchCommand(engine, apiKey) {
    return launchPythonWithKey(engine, 'lmdeploy', { flag: '--api-keys', apiKey }, [
      'serve',
      'api_server',
      engine.model,
      '--server-name',
      ENGINE_HOST,
      '--server-port',
      String(engine.port),
      '--model-name',
      engine.servedModelName,
    ]);
  },
  probeReady: probeHealthAndModel,
  scrapeLoad: gaugeLoadScraper(LMDEPLOY_LOAD_METRICS),
  routes: () => LMDEPLOY_ROUTES,
};
