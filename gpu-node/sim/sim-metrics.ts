/**
 * The simulator's `/metrics` page: the vLLM series a router reads, with vLLM's names, help texts
 * and labels (`model_name`, `engine`), in the Prometheus text format.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { BatchScheduler } from './batch-scheduler.ts';

export type FinishedReason = 'stop' | 'length' | 'abort';

const LABEL_NAMES = ['model_name', 'engine'] as const;

export class SimMetrics {
  readonly registry = new Registry();
  readonly #labels: { model_name: string; engine: string };
  readonly #promptTokens: Counter<(typeof LABEL_NAMES)[number]>;
  readonly #generationTokens: Counter<(typeof LABEL_NAMES)[number]>;
  readonly #prefixQueries: Counter<(typeof LABEL_NAMES)[number]>;
  readonly #prefixHits: Counter<(typeof LABEL_NAMES)[number]>;
  readonly #requestSuccess: Counter<(typeof LABEL_NAMES)[number] | 'finished_reason'>;

  constructor(modelName: string, scheduler: BatchScheduler) {
    const labels = { model_name: modelName, engine: '0' };
    this.#labels = labels;
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        labelNames: LABEL_NAMES,
        registers,
        collect() {
          this.set(labels, read());
        },
      });
    };
    gauge(
      'vllm:num_requests_running',
      'Number of requests in model execution batches.',
      () => scheduler.running,
    );
    gauge(
      'vllm:num_requests_waiting',
      'Number of requests waiting to be processed.',
      () => scheduler.waiting,
    );
    gauge(
      'vllm:kv_cache_usage_perc',
      'KV-cache usage. 1 means 100 percent usage.',
      () => scheduler.kvCacheUsage,
    );

    const counter = (name: string, help: string): Counter<(typeof LABEL_NAMES)[number]> => {
      const created = new Counter({ name, help, labelNames: LABEL_NAMES, registers });
      created.inc(labels, 0);
      return created;
    };
    this.#prefixQueries = counter(
      'vllm:prefix_cache_queries_total',
      'Prefix cache queries, in terms of number of queried tokens.',
    );
    this.#prefixHits = counter(
      'vllm:prefix_cache_hits_total',
      'Prefix cache hits, in terms of number of cached tokens.',
    );
    this.#promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.#generationTokens = counter(
      'vllm:generation_tokens_total',
      'Number of generation tokens processed.',
    );
    this.#requestSuccess = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: [...LABEL_NAMES, 'finished_reason'],
      registers,
    });
    for (const reason of ['stop', 'length', 'abort'] as const) {
      this.#requestSuccess.inc({ ...labels, finished_reason: reason }, 0);
    }
  }

  recordPrefill(promptTokens: number, cachedTokens: number, queriedCache: boolean): void {
    this.#promptTokens.inc(this.#labels, promptTokens);
    if (!queriedCache) return;
    this.#prefixQueries.inc(this.#labels, promptTokens);
    this.#prefixHits.inc(this.#labels, cachedTokens);
  }

  recordGeneratedToken(): void {
    this.#generationTokens.inc(this.#labels, 1);
  }

  recordFinished(reason: FinishedReason): void {
    this.#requestSuccess.inc({ ...this.#labels, finished_reason: reason }, 1);
  }

  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
