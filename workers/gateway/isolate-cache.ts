/**
 * A map kept for the life of an isolate, bounded: past `maxEntries` it starts over. Not an LRU —
 * what these caches hold (verified key ids, derived credentials, served model names, a key's
 * last admission) is cheap to learn again, and a bound is all memory needs.
 */
export class IsolateCache<K, V> extends Map<K, V> {
  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    super();
    this.maxEntries = maxEntries;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.maxEntries && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
