/**
 * The latency model. A request waits for a batch slot, prefills the prompt tokens the prefix cache
 * does not hold at `prefillTokensPerS`, then emits one token per decode step; a step takes
 * `decodeMsPerToken + decodeMsPerTokenPerExtraSeq × (running − 1)`, read afresh every step so the
 * pace follows the batch as it grows and shrinks. Every delay is multiplied by `timeScale`.
 */
import { setImmediate, setTimeout } from 'node:timers/promises';
import { BatchScheduler, type BatchSlot } from './batch-scheduler.ts';
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

export interface EngineStream {
  feed(promptTokens: readonly string[], outputTokens: readonly string[]): AsyncGenerator<EmittedToken>;
  close(finished: boolean): void;
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
    const slot = await this.scheduler.acquire(plan.promptTokens.length, signal);
    let finished = false;
    try {
      const { cachedTokens, due } = await this.#prefill(plan.promptTokens, plan.cacheSalt, signal);
      yield* this.#decode(slot, plan.outputTokens, cachedTokens, due, signal);
      finished = true;
    } finally {
      this.scheduler.release(slot);
      this.metrics.recordFinished(finished ? plan.finishReason : 'abort');
    }
  }

  /**
   * A request whose input keeps arriving while it runs (realtime transcription): it holds one batch
   * slot for its whole life; each `feed` prefills the new input (no prefix cache) and decodes the
   * output for it. `close` frees the slot; it must be called however the request ends.
   */
  async openStream(signal: AbortSignal): Promise<EngineStream> {
    const slot = await this.scheduler.acquire(0, signal);
    let closed = false;
    return {
      feed: (promptTokens, outputTokens) => this.#feed(slot, promptTokens, outputTokens, signal),
      close: (finished: boolean) => {
        if (closed) return;
        closed = true;
        this.scheduler.release(slot);
        this.metrics.recordFinished(finished ? 'stop' : 'abort');
      },
    };
  }

  /**
   * Pooling requests take a slot for the length of their prefill; `holdSteps` keeps it for that many
   * more decode steps without emitting tokens (image generation's denoising steps).
   */
  async embed(promptTokens: number, signal: AbortSignal, holdSteps = 0): Promise<void> {
    const slot = await this.scheduler.acquire(promptTokens, signal);
    let finished = false;
    try {
      this.metrics.recordPrefill(promptTokens, 0, false);
      let due = performance.now() + this.#scaled((promptTokens / this.#options.prefillTokensPerS) * 1000);
      await this.#sleepUntil(due, signal);
      for (let step = 0; step < holdSteps; step++) {
        due += this.#scaled(this.#decodeStepMs());
        await this.#sleepUntil(due, signal);
      }
      finished = true;
    } finally {
      this.scheduler.release(slot);
      this.metrics.recordFinished(finished ? 'stop' : 'abort');
    }
  }

  async *#feed(
    slot: BatchSlot,
    promptTokens: readonly string[],
    outputTokens: readonly string[],
    signal: AbortSignal,
  ): AsyncGenerator<EmittedToken, void, undefined> {
    slot.kvTokens += promptTokens.length;
    this.metrics.recordPrefill(promptTokens.length, 0, false);
    const due =
      performance.now() + this.#scaled((promptTokens.length / this.#options.prefillTokensPerS) * 1000);
    await this.#sleepUntil(due, signal);
    yield* this.#decode(slot, outputTokens, 0, due, signal);
  }

  /** Looks the prompt up in the prefix cache and sleeps through the prefill of the rest. */
  async #prefill(
    promptTokens: readonly string[],
    cacheSalt: string,
    signal: AbortSignal,
  ): Promise<{ cachedTokens: number; due: number }> {
    const promptLength = promptTokens.length;
    const { blockSize } = this.#options;
    const blockHashes = chainedBlockHashes(promptTokens, blockSize, cacheSalt);
    const queriesCache = this.#options.prefixCacheTokens > 0;
    const hitBlocks = queriesCache ? this.#prefixCache.matchLeadingBlocks(blockHashes) : 0;
    // Like vLLM, at least the prompt's last token is always computed, even on a full hit.
    const reusableTokens = Math.max(0, Math.floor((promptLength - 1) / blockSize) * blockSize);
    const cachedTokens = Math.min(hitBlocks * blockSize, reusableTokens);
    this.metrics.recordPrefill(promptLength, cachedTokens, queriesCache);

    const due =
      performance.now() +
      this.#scaled(((promptLength - cachedTokens) / this.#options.prefillTokensPerS) * 1000);
    await this.#sleepUntil(due, signal);
    this.#prefixCache.insert(blockHashes);
    return { cachedTokens, due };
  }

  /** The first token leaves at `due` (the end of prefill); each further one a decode step later. */
  async *#decode(
    slot: BatchSlot,
    outputTokens: readonly string[],
    cachedTokens: number,
    start: number,
    signal: AbortSignal,
  ): AsyncGenerator<EmittedToken, void, undefined> {
    let due = start;
    for (const [index, text] of outputTokens.entries()) {
      if (index > 0) {
        due += this.#scaled(this.#decodeStepMs());
        await this.#sleepUntil(due, signal);
      }
      slot.kvTokens++;
      this.metrics.recordGeneratedToken();
      yield { text, cachedTokens };
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
