/**
 * The engine simulator (gpu-node/sim/), a labelled test and demo tool, started as `gpu-node sim`
 * on the agent's own Node: from a checkout or from the built single-file agent alike. It answers
 * like vLLM, /metrics names included, so it is probed and scraped exactly as vLLM is, and like
 * vLLM it takes its API key from VLLM_API_KEY. Its batch slots are the engine's maxConcurrency,
 * so the capacity the gateway is told is the one the simulator has.
 */
import { CLI_PATH } from '../cli-path.ts';
import type { EngineAdapter } from './engine-adapter.ts';
import { simRoutes } from './engine-routes.ts';
import { probeHealthAndModel } from './engine-http.ts';
import { launchWith } from './launch.ts';
import { gaugeLoadScraper } from './load-metrics.ts';
import { VLLM_LOAD_METRICS } from './vllm.ts';

export const simAdapter: EngineAdapter = {
  kind: 'sim',
  binary: process.execPath,
  launchCommand(engine, apiKey) {
    return launchWith(
      engine,
      process.execPath,
      [
        CLI_PATH,
        'sim',
        '--port',
        String(engine.port),
        '--served-model-name',
        engine.servedModelName,
        '--engine-id',
        engine.id,
        '--max-batch',
        String(engine.maxConcurrency),
      ],
      { VLLM_API_KEY: apiKey },
    );
  },
  probeReady: probeHealthAndModel,
  scrapeLoad: gaugeLoadScraper(VLLM_LOAD_METRICS),
  routes: simRoutes,
};
