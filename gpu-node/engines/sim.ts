/**
 * The engine simulator (gpu-node/sim/main.ts), a labelled test and demo tool. It runs on the
 * agent's own Node (type stripping runs the .ts directly) and answers like vLLM, /metrics
 * names included, so it is probed and scraped exactly as vLLM is. Its batch slots are the
 * engine's maxConcurrency, so the capacity the gateway is told is the one the simulator has.
 */
import { fileURLToPath } from 'node:url';
import type { EngineAdapter } from './engine-adapter.ts';
import { probeHealthAndModel } from './engine-http.ts';
import { launchWith } from './launch.ts';
import { gaugeLoadScraper } from './load-metrics.ts';
import { VLLM_LOAD_METRICS } from './vllm.ts';

export const SIM_MAIN_PATH = fileURLToPath(new URL('../sim/main.ts', import.meta.url));

export const simAdapter: EngineAdapter = {
  kind: 'sim',
  binary: process.execPath,
  launchCommand(engine, apiKey) {
    return launchWith(engine, process.execPath, [
      SIM_MAIN_PATH,
      '--port',
      String(engine.port),
      '--served-model-name',
      engine.servedModelName,
      '--api-key',
      apiKey,
      '--engine-id',
      engine.id,
      '--max-batch',
      String(engine.maxConcurrency),
    ]);
  },
  probeReady: probeHealthAndModel,
  scrapeLoad: gaugeLoadScraper(VLLM_LOAD_METRICS),
};
