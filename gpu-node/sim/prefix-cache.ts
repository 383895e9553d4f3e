/**
 * A token-budgeted LRU of prompt blocks, standing in for vLLM's automatic prefix caching: a
 * request's leading blocks that are already cached cost no prefill. Like vLLM, a prompt's blocks
 * are touched last-to-first, so under pressure a prompt loses its tail before its head (a head
 * without its tail still helps; a tail without its head never matches).
 */
export class PrefixCache {
  /** Block hashes in recency order: a Map iterates oldest first, and re-setting moves to the end. */
  readonly #blocks = new Map<string, true>();
  readonly #capacityBlocks: number;

  constructor(capacityTokens: number, blockSize: number) {
    this.#capacityBlocks = Math.floor(capacityTokens / blockSize);
  }

  /** How many of the leading blocks are cached; those blocks become the most recently used. */
  matchLeadingBlocks(blockHashes: readonly string[]): number {
    let matched = 0;
    while (matched < blockHashes.length && this.#blocks.has(blockHashes[matched] ?? '')) matched++;
    this.#touchTailFirst(blockHashes.slice(0, matched));
    return matched;
  }

  /** Caches a prefilled prompt's blocks, evicting the least recently used beyond the budget. */
  insert(blockHashes: readonly string[]): void {
    if (this.#capacityBlocks === 0) return;
    this.#touchTailFirst(blockHashes);
    for (const oldest of this.#blocks.keys()) {
      if (this.#blocks.size <= this.#capacityBlocks) break;
      this.#blocks.delete(oldest);
    }
  }

  #touchTailFirst(blockHashes: readonly string[]): void {
    for (let index = blockHashes.length - 1; index >= 0; index--) {
      const blockHash = blockHashes[index] ?? '';
      this.#blocks.delete(blockHash);
      this.#blocks.set(blockHash, true);
    }
  }
}
