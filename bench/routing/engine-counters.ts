/**
 * The simulators' own counters, read from their /metrics pages (vLLM's names): prefix-cache
 * queries and hits in tokens, and generated tokens. The hit rate the benchmark reports is the
 * engines' own figure, not the router's belief.
 */
export interface EngineCounters {
  prefixQueries: number;
  prefixHits: number;
  generationTokens: number;
}

const SERIES = {
  prefixQueries: 'vllm:prefix_cache_queries_total',
  prefixHits: 'vllm:prefix_cache_hits_total',
  generationTokens: 'vllm:generation_tokens_total',
} as const;

export async function readCounters(engineUrl: string): Promise<EngineCounters> {
  const page = await (await fetch(`${engineUrl}/metrics`)).text();
  const value = (name: string) => {
    const line = page.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    if (!line) throw new Error(`${engineUrl}/metrics has no ${name}`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return {
    prefixQueries: value(SERIES.prefixQueries),
    prefixHits: value(SERIES.prefixHits),
    generationTokens: value(SERIES.generationTokens),
  };
}

export async function readAllCounters(engineUrls: string[]): Promise<EngineCounters[]> {
  return Promise.all(engineUrls.map(readCounters));
}

/** Prefix-cache tokens queried and hit over a window, all engines together. */
export function prefixDelta(
  before: EngineCounters[],
  after: EngineCounters[],
): { queries: number; hits: number } {
  let queries = 0;
  let hits = 0;
  after.forEach((end, i) => {
    queries += end.prefixQueries - before[i]!.prefixQueries;
    hits += end.prefixHits - before[i]!.prefixHits;
  });
  return { queries, hits };
}
