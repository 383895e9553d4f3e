/** Shared pieces of the simulator tests: starting one, reading its /metrics as vLLM's are read. */
import { createRequire } from 'node:module';
import OpenAI from 'openai';
import { type RunningSimulator, type SimOptions, startSimulator } from '../../gpu-node/sim/index.ts';

interface MetricFamily {
  name: string;
  type: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}

// The package ships no types; this is the one shape the tests use.
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => MetricFamily[];

export const MODEL = 'sim-model';

const running: RunningSimulator[] = [];

/** Starts a simulator on a free port; `closeSimulators` in afterEach stops every one. */
export async function startTestSimulator(options: Partial<SimOptions> = {}): Promise<RunningSimulator> {
  const simulator = await startSimulator({
    port: 0,
    servedModelName: MODEL,
    engineId: 'eng-test',
    ...options,
  });
  running.push(simulator);
  return simulator;
}

export async function closeSimulators(): Promise<void> {
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
}

export function clientFor(simulator: RunningSimulator, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${simulator.url}/v1`, apiKey, maxRetries: 0 });
}

/** Reads one series from /metrics (summed over label sets matching `labels`). */
export async function readMetric(
  simulator: RunningSimulator,
  name: string,
  labels: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<number> {
  const response = await fetch(`${simulator.url}/metrics`, { headers });
  const families = parsePrometheusTextFormat(await response.text());
  const family = families.find((candidate) => candidate.name === name);
  if (family === undefined) throw new Error(`no metric ${name} on /metrics`);
  return family.metrics
    .filter((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value))
    .reduce((total, metric) => total + Number(metric.value), 0);
}

/** A prompt of roughly `words` × 1.5 tokens whose text is unique to `seed`. */
export function longPrompt(words: number, seed = 'p'): string {
  return Array.from({ length: words }, (_, index) => `${seed}${index}`).join(' ');
}
