/**
 * The latency model. A request waits for a batch slot, prefills the prompt tokens the prefix cache
 * does not hold at `prefillTokensPerS`, then emits one token per decode step; a step takes
 * `decodeMsPerToken + decodeMsPerTokenPerExtraSeq × (running − 1)`, read afresh every step so the
 * pace follows the batch as it grows and shrinks. Every delay is multiplied by `timeScale`.
 */
import { setImmediate, setTimeout } from 'node:timers/promises';
import { BatchScheduler } from './batch-scheduler.ts';
import type { SimOptions } from './options.ts';
import { PrefixCache } from './prefix-cache.ts';
import { type FinishedReason, SimMetrics } from './sim-metrics.ts';
import { chainedBlockHashes } from './text-model.ts';

export interface GenerationPlan {
  promptTokens: readonly string[];
  outputTokens: readonly string[];
  /** vLLM's `cache_salt`: isolates this request's prefix-cache blocks. */
  cacheSalt: string;
  finishReason: Exclude<FinishedReason, 'abort'>;
}

export interface EmittedToken {
  text: string;
  /** Prompt tokens served from the prefix cache (the same on every token of a request). */
  cachedTokens: number;
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export class SimEngine {
  readonly scheduler: BatchScheduler;
  readonly metrics: SimMetrics;
  readonly #options: SimOptions;
  readonly #prefixCache: PrefixCache;
  #stalled = false;

  constructor(options: SimOptions) {
    this.#options = options;
    this.scheduler = new BatchScheduler(options);
    this.metrics = new SimMetrics(options.servedModelName, this.scheduler);
    this.#prefixCache = new PrefixCache(options.prefixCacheTokens, options.blockSize);
  }

  /** From now on nothing progresses: a hung GPU. Only aborts (client gone, close()) end waits. */
  stall(): void {
    this.#stalled = true;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** Yields the output tokens at the simulated pace; the batch slot is freed however it ends. */
  async *generate(plan: GenerationPlan, signal: AbortSignal): AsyncGenerator<EmittedToken, void, undefined> {
    const promptLength = plan.promptTokens.length;
    const slot = await this.scheduler.acquire(promptLength, signal);
    let finished = false;
    try {
      const { blockSize } = this.#options;
      const blockHashes = chainedBlockHashes(plan.promptTokens, blockSize, plan.cacheSalt);
      const queriesCache = this.#options.prefixCacheTokens > 0;
      const hitBlocks = queriesCache ? this.#prefixCache.matchLeadingBlocks(blockHashes) : 0;
      // Like vLLM, at least the prompt's last token is always computed, even on a full hit.
      const reusableTokens = Math.max(0, Math.floor((promptLength - 1) / blockSize) * blockSize);
      const cachedTokens = Math.min(hitBlocks * blockSize, reusableTokens);
      this.metrics.recordPrefill(promptLength, cachedTokens, queriesCache);

      let due =
        performance.now() +
        this.#scaled(((promptLength - cachedTokens) / this.#options.prefillTokensPerS) * 1000);
      await this.#sleepUntil(due, signal);
      this.#prefixCache.insert(blockHashes);

      for (const [index, text] of plan.outputTokens.entries()) {
        if (index > 0) {
          due += this.#scaled(this.#decodeStepMs());
          await this.#sleepUntil(due, signal);
        }
        slot.kvTokens++;
        this.metrics.recordGeneratedToken();
        yield { text, cachedTokens };
      }
      finished = true;
    } finally {
      this.scheduler.release(slot);
      this.metrics.recordFinished(finished ? plan.finishReason : 'abort');
    }
  }

  /** Pooling requests take a slot for the length of their prefill. */
  async embed(promptTokens: number, signal: AbortSignal): Promise<void> {
    const slot = await this.scheduler.acquire(promptTokens, signal);
    let finished = false;
    try {
      this.metrics.recordPrefill(promptTokens, 0, false);
      const prefillMs = (promptTokens / this.#options.prefillTokensPerS) * 1000;
      await this.#sleepUntil(performance.now() + this.#scaled(prefillMs), signal);
      finished = true;
    } finally {
      this.scheduler.release(slot);
      this.metrics.recordFinished(finished ? 'stop' : 'abort');
    }
  }

  #decodeStepMs(): number {
    const others = Math.max(0, this.scheduler.running - 1);
    return this.#options.decodeMsPerToken + this.#options.decodeMsPerTokenPerExtraSeq * others;
  }

  #scaled(ms: number): number {
    return ms * this.#options.timeScale;
  }

  /** Sleeps to an absolute time so timer overshoot does not accumulate over many tokens. */
  async #sleepUntil(due: number, signal: AbortSignal): Promise<void> {
    if (this.#stalled) await untilAborted(signal);
    const delay = due - performance.now();
    if (delay > 0) await setTimeout(delay, undefined, { signal });
    else await setImmediate(undefined, { signal });
    if (this.#stalled) await untilAborted(signal);
  }
}
