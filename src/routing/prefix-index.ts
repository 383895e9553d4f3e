/**
 * Which prefix blocks each engine probably holds in its cache: per engine, an LRU of the block
 * hashes of the requests sent to it. The engine's own cache is an LRU over the same requests,
 * so the two agree as long as they are the same size — and the index does not know the
 * engine's size. It learns it from the engine's answers: each reports how many prompt tokens
 * it found cached. Fewer than the index expected: the engine had evicted what the index still
 * held, so the index shrinks (by a tenth). More: the index had forgotten what the engine still
 * held, so it grows by the difference. An engine that never reports a cached token (vLLM
 * without `--enable-prompt-tokens-details`) teaches nothing and keeps the largest size.
 *
 * Memory is bounded however many prefixes arrive: every engine's LRU holds at most
 * `min(perEngineBlocks, totalBlocks / engines)` hashes, so the whole index never holds more
 * than `totalBlocks`, whatever the number of engines.
 */
export interface PrefixIndexLimits {
  perEngineBlocks: number;
  totalBlocks: number;
}

/** Per engine ~4 MiB of text (~1M tokens); at most 256 Ki hashes (a few MiB) per pool. */
export const DEFAULT_PREFIX_INDEX_LIMITS: PrefixIndexLimits = {
  perEngineBlocks: 16_384,
  totalBlocks: 262_144,
};

/** The smallest an engine's learned size goes: a few long prompts (64 blocks ≈ 16k characters). */
const MIN_LEARNED_BLOCKS = 64;

interface EngineEntry {
  /** A Set iterates in insertion order, so deleting and re-adding a hash makes it the newest. */
  blocks: Set<number>;
  /** What the engine's answers suggest its cache holds, in blocks. */
  learnedBlocks: number;
  reportsCache: boolean;
}

export class PrefixIndex {
  private readonly engines = new Map<string, EngineEntry>();
  private readonly limits: PrefixIndexLimits;

  constructor(limits: PrefixIndexLimits = DEFAULT_PREFIX_INDEX_LIMITS) {
    this.limits = limits;
  }

  /** How many leading blocks of `hashes` each engine holds (engines with none are left out). */
  matches(hashes: readonly number[]): Map<string, number> {
    const found = new Map<string, number>();
    if (hashes.length === 0) return found;
    for (const [engineKey, { blocks }] of this.engines) {
      let matched = 0;
      while (matched < hashes.length && blocks.has(hashes[matched]!)) matched++;
      if (matched > 0) found.set(engineKey, matched);
    }
    return found;
  }

  /**
   * Records that `engineKey` now holds these blocks. They are touched tail first, so the head
   * of a prompt is the newest and pressure evicts tails before heads (as vLLM evicts): a head
   * without its tail still matches; a tail without its head never would.
   */
  record(engineKey: string, hashes: readonly number[]): void {
    if (hashes.length === 0) return;
    let entry = this.engines.get(engineKey);
    if (!entry) {
      entry = { blocks: new Set(), learnedBlocks: this.limits.perEngineBlocks, reportsCache: false };
      this.engines.set(engineKey, entry);
      // A new engine lowers everyone's share.
      for (const other of this.engines.values()) this.trim(other);
    }
    for (let i = hashes.length - 1; i >= 0; i--) {
      entry.blocks.delete(hashes[i]!);
      entry.blocks.add(hashes[i]!);
    }
    this.trim(entry);
  }

  /**
   * What the engine answered about a request sent to it when the index expected it to hold
   * `expectedBlocks` of the prefix: it had `cachedBlocks`. A block of slack (and 5%) absorbs
   * rounding between characters and tokens.
   */
  observe(engineKey: string, expectedBlocks: number, cachedBlocks: number): void {
    const entry = this.engines.get(engineKey);
    if (!entry) return;
    if (cachedBlocks > 0) entry.reportsCache = true;
    if (!entry.reportsCache) return;
    const slack = 1 + 0.05 * expectedBlocks;
    if (cachedBlocks < expectedBlocks - slack) {
      entry.learnedBlocks = Math.max(MIN_LEARNED_BLOCKS, Math.floor(entry.learnedBlocks * 0.9));
    } else if (cachedBlocks > expectedBlocks + slack) {
      const grown = entry.learnedBlocks + Math.ceil(cachedBlocks - expectedBlocks);
      entry.learnedBlocks = Math.min(this.limits.perEngineBlocks, grown);
    }
    this.trim(entry);
  }

  forget(engineKey: string): void {
    this.engines.delete(engineKey);
  }

  /** Hashes held, all engines together (for tests and the pool's snapshot). */
  size(): number {
    let total = 0;
    for (const { blocks } of this.engines.values()) total += blocks.size;
    return total;
  }

  /** What the index believes `engineKey` holds at most, in blocks. */
  capacityOf(engineKey: string): number {
    const entry = this.engines.get(engineKey);
    return entry ? this.capacity(entry) : 0;
  }

  private capacity(entry: EngineEntry): number {
    const share = Math.floor(this.limits.totalBlocks / Math.max(1, this.engines.size));
    return Math.min(this.limits.perEngineBlocks, share, entry.learnedBlocks);
  }

  private trim(entry: EngineEntry): void {
    const capacity = this.capacity(entry);
    for (const oldest of entry.blocks) {
      if (entry.blocks.size <= capacity) return;
      entry.blocks.delete(oldest);
    }
  }
}

/**
 * How many of a request's `totalBlocks` an engine had cached, from the tokens it reported:
 * the cached share of the prompt, in blocks. Rendering differs from the engine's template by
 * a little, which the slack in `observe` absorbs.
 */
export function cachedBlocksOf(
  totalBlocks: number,
  usage: { promptTokens: number; cachedTokens: number },
): number {
  if (usage.promptTokens <= 0) return 0;
  return Math.floor((Math.min(usage.cachedTokens, usage.promptTokens) / usage.promptTokens) * totalBlocks);
}
