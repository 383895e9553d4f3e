/**
 * Batch slots and the waiting queue. A request runs when a slot is free and its prompt fits in
 * the KV cache (vLLM cannot schedule a prompt it has no blocks for); otherwise it waits, first in
 * first out. Running requests hold KV-cache tokens (prompt + generated so far), which is what
 * `vllm:kv_cache_usage_perc` reports.
 */
import { SimError } from './sim-error.ts';

/** One running request's hold on a batch slot and on KV-cache tokens. */
export interface BatchSlot {
  kvTokens: number;
}

interface Waiter {
  promptTokens: number;
  admit(slot: BatchSlot): void;
}

export interface BatchLimits {
  maxBatch: number;
  maxWaiting: number;
  kvCacheTokens: number;
}

export class BatchScheduler {
  readonly #limits: BatchLimits;
  readonly #running = new Set<BatchSlot>();
  readonly #waiting: Waiter[] = [];

  constructor(limits: BatchLimits) {
    this.#limits = limits;
  }

  get running(): number {
    return this.#running.size;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Share of the KV cache held by running requests, 0..1. */
  get kvCacheUsage(): number {
    let held = 0;
    for (const slot of this.#running) held += slot.kvTokens;
    return Math.min(1, held / this.#limits.kvCacheTokens);
  }

  /**
   * Resolves with a slot once the request may run. Throws synchronously (before any response
   * bytes) when the queue is full; rejects with the signal's reason if the client leaves first.
   */
  acquire(promptTokens: number, signal: AbortSignal): Promise<BatchSlot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#canStartNow(promptTokens)) return Promise.resolve(this.#start(promptTokens));
    this.assertCanQueue(promptTokens);
    return new Promise<BatchSlot>((resolve, reject) => {
      const waiter: Waiter = {
        promptTokens,
        admit: (slot) => {
          signal.removeEventListener('abort', leave);
          resolve(slot);
        },
      };
      const leave = (): void => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(signal.reason);
        this.#admitWaiting();
      };
      signal.addEventListener('abort', leave, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Throws the 503 that `acquire` would, so a stream can be refused before its headers go out. */
  assertCanQueue(promptTokens: number): void {
    if (this.#canStartNow(promptTokens) || this.#waiting.length < this.#limits.maxWaiting) return;
    throw new SimError(`the waiting queue is full (${this.#limits.maxWaiting} requests)`, { status: 503 });
  }

  release(slot: BatchSlot): void {
    if (!this.#running.delete(slot)) return;
    this.#admitWaiting();
  }

  #canStartNow(promptTokens: number): boolean {
    return this.#waiting.length === 0 && this.#fits(promptTokens);
  }

  #fits(promptTokens: number): boolean {
    if (this.#running.size >= this.#limits.maxBatch) return false;
    if (this.#running.size === 0) return true;
    let held = 0;
    for (const slot of this.#running) held += slot.kvTokens;
    return held + promptTokens <= this.#limits.kvCacheTokens;
  }

  #start(promptTokens: number): BatchSlot {
    const slot: BatchSlot = { kvTokens: promptTokens };
    this.#running.add(slot);
    return slot;
  }

  #admitWaiting(): void {
    let head = this.#waiting[0];
    while (head !== undefined && this.#fits(head.promptTokens)) {
      this.#waiting.shift();
      head.admit(this.#start(head.promptTokens));
      head = this.#waiting[0];
    }
  }
}
