/**
 * SGLang (`python3 -m sglang.launch_server`). /metrics exists only with `--enable-metrics`.
 * Scheduler gauges carry `model_name`, `engine_type`, `tp_rank`, `pp_rank` (and more on newer
 * releases); only attention-TP rank 0 of each data-parallel group reports, so series add up.
 * With priority scheduling the gauges are also broken down by a `priority` label next to a
 * total whose `priority` is empty; only the total is read, or requests would count twice.
 * Source: python/sglang/srt/metrics/collector.py, docs/references/production_metrics.md.
 * Its key is handed over inside Python (python-launch.ts), not on the command line.
 */
import type { EngineAdapter } from './engine-adapter.ts';
import { SGLANG_ROUTES } from './engine-routes.ts';
import { probeHealthAndModel } from './engine-http.ts';
import { ENGINE_HOST } from './launch.ts';
import { gaugeLoadScraper, type LoadMetricNames, type SeriesFilter } from './load-metrics.ts';
import { launchPythonWithKey } from './python-launch.ts';

export const SGLANG_LOAD_METRICS: LoadMetricNames = {
  running: 'sglang:num_running_reqs',
  waiting: 'sglang:num_queue_reqs',
  kvCacheUsage: ['sglang:token_usage'],
};

export const sglangTotalsOnly: SeriesFilter = (labels) => !labels.priority;

export const sglangAdapter: EngineAdapter = {
  kind: 'sglang',
  binary: 'python3',
  pythonModule: 'sglang',
  launchCommand(engine, apiKey) {
    return launchPythonWithKey(engine, 'sglang.launch_server', { flag: '--api-key', apiKey }, [
      '--model-path',
      engine.model,
      '--host',
      ENGINE_HOST,
      '--port',
      String(engine.port),
      '--served-model-name',
      engine.servedModelName,
      '--enable-metrics',
    ]);
  },
  probeReady: probeHealthAndModel,
  scrapeLoad: gaugeLoadScraper(SGLANG_LOAD_METRICS, sglangTotalsOnly),
  routes: () => SGLANG_ROUTES,
};
