/** Prefix blocks of a rendered conversation, and the bounded per-engine index of them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_PREFIX_BLOCKS,
  PREFIX_BLOCK_CHARS,
  prefixBlockHashes,
  renderChatForPrefix,
  requestPrefixHashes,
} from '../../src/routing/prefix-blocks.ts';
import { PrefixIndex, cachedBlocksOf } from '../../src/routing/prefix-index.ts';

const SYSTEM = 'You are a careful assistant for the billing team. '.repeat(30);
const chat = (...messages: Array<[string, string]>) => ({
  model: 'm',
  messages: messages.map(([role, content]) => ({ role, content })),
});

/** How many leading entries two lists share. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

describe('prefix block hashes', () => {
  it('hashes only full blocks, and equal texts alike', () => {
    expect(prefixBlockHashes('x'.repeat(PREFIX_BLOCK_CHARS - 1))).toEqual([]);
    expect(prefixBlockHashes('x'.repeat(3 * PREFIX_BLOCK_CHARS + 10))).toHaveLength(3);
    expect(prefixBlockHashes(SYSTEM)).toEqual(prefixBlockHashes(SYSTEM));
  });

  it('chains: a block equal in text but following another prefix hashes differently', () => {
    const block = 'b'.repeat(PREFIX_BLOCK_CHARS);
    const [, afterA] = prefixBlockHashes('a'.repeat(PREFIX_BLOCK_CHARS) + block);
    const [, afterC] = prefixBlockHashes('c'.repeat(PREFIX_BLOCK_CHARS) + block);
    expect(afterA).not.toBe(afterC);
  });

  it('shares exactly the blocks two texts have in common, for any texts', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 2000 }),
        fc.string({ maxLength: 800 }),
        fc.string({ maxLength: 800 }),
        (head, a, b) => {
          const ha = prefixBlockHashes(head + a, '', 64);
          const hb = prefixBlockHashes(head + b, '', 64);
          let equalChars = 0;
          const ta = head + a;
          const tb = head + b;
          while (equalChars < ta.length && equalChars < tb.length && ta[equalChars] === tb[equalChars])
            equalChars++;
          const sharedBlocks = Math.min(Math.floor(equalChars / 64), ha.length, hb.length);
          expect(commonPrefix(ha, hb)).toBe(sharedBlocks);
        },
      ),
    );
  });

  it('keeps a salt (cache_salt) from sharing blocks with the unsalted text', () => {
    expect(commonPrefix(prefixBlockHashes(SYSTEM, 'tenant-a'), prefixBlockHashes(SYSTEM))).toBe(0);
  });

  it('stops at MAX_PREFIX_BLOCKS however long the text', () => {
    expect(prefixBlockHashes('z'.repeat((MAX_PREFIX_BLOCKS + 50) * PREFIX_BLOCK_CHARS))).toHaveLength(
      MAX_PREFIX_BLOCKS,
    );
  });
});

describe('rendering a conversation', () => {
  it("keeps a turn's hashes as the prefix of the next turn's", () => {
    const turn1 = requestPrefixHashes(
      chat(['system', SYSTEM], ['user', 'Why was I charged twice? '.repeat(20)]),
    );
    const turn2 = requestPrefixHashes(
      chat(
        ['system', SYSTEM],
        ['user', 'Why was I charged twice? '.repeat(20)],
        ['assistant', 'Let me look at your invoices. '.repeat(10)],
        ['user', 'Invoice 42, please. '.repeat(20)],
      ),
    );
    expect(turn1.length).toBeGreaterThan(0);
    expect(turn2.slice(0, turn1.length)).toEqual(turn1);
  });

  it('hashes every message: two conversations with one system prompt part where their turns do', () => {
    const a = requestPrefixHashes(chat(['system', SYSTEM], ['user', 'Refund my order. '.repeat(40)]));
    const b = requestPrefixHashes(chat(['system', SYSTEM], ['user', 'Change my address. '.repeat(40)]));
    const shared = commonPrefix(a, b);
    expect(shared).toBeGreaterThan(0);
    expect(shared).toBeLessThan(a.length);
    expect(shared).toBeLessThanOrEqual(Math.ceil(SYSTEM.length / PREFIX_BLOCK_CHARS));
  });

  it('renders content parts, tools and tool calls, so they count', () => {
    const withTools = renderChatForPrefix([{ role: 'user', content: 'hi' }], [{ type: 'function' }]);
    expect(withTools).not.toBe(renderChatForPrefix([{ role: 'user', content: 'hi' }]));
    const parts = renderChatForPrefix([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
    expect(parts).toContain('"text":"hi"');
    const call = renderChatForPrefix([{ role: 'assistant', content: null, tool_calls: [{ id: 'c1' }] }]);
    expect(call).toContain('"c1"');
  });

  it('hashes a completions prompt: a string, one string in a list, token ids; not a batch', () => {
    const text = 'p'.repeat(3 * PREFIX_BLOCK_CHARS);
    expect(requestPrefixHashes({ prompt: text })).toHaveLength(3);
    expect(requestPrefixHashes({ prompt: [text] })).toEqual(requestPrefixHashes({ prompt: text }));
    expect(requestPrefixHashes({ prompt: Array.from({ length: 1000 }, (_, i) => i) }).length).toBeGreaterThan(
      0,
    );
    expect(requestPrefixHashes({ prompt: [text, text] })).toEqual([]);
  });
});

describe('PrefixIndex', () => {
  const blocks = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

  it('finds, per engine, how many leading blocks it holds', () => {
    const index = new PrefixIndex();
    index.record('a', blocks(5));
    index.record('b', blocks(2));
    expect(index.matches(blocks(8))).toEqual(
      new Map([
        ['a', 5],
        ['b', 2],
      ]),
    );
    expect(index.matches([99, ...blocks(5)])).toEqual(new Map());
  });

  it('evicts the least recently used blocks, tails before heads', () => {
    const index = new PrefixIndex({ perEngineBlocks: 6, totalBlocks: 100 });
    index.record('a', blocks(4)); // 0..3
    index.record('a', blocks(4, 100)); // 100..103 pushes out 3 and 2, the tail of the first prompt
    expect(index.matches(blocks(4)).get('a')).toBe(2);
    expect(index.matches(blocks(4, 100)).get('a')).toBe(4);
  });

  it('never holds more than its bounds, whatever is recorded for however many engines', () => {
    fc.assert(
      fc.property(
        fc.record({
          perEngineBlocks: fc.integer({ min: 0, max: 50 }),
          totalBlocks: fc.integer({ min: 0, max: 200 }),
        }),
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 30 }), fc.uniqueArray(fc.nat({ max: 500 }), { maxLength: 80 })),
          {
            maxLength: 60,
          },
        ),
        (limits, records) => {
          const index = new PrefixIndex(limits);
          for (const [engine, hashes] of records) {
            index.record(`e${engine}`, hashes);
            // Whatever the engines report, learning only ever trims within the bounds.
            index.observe(`e${engine}`, hashes.length, hashes[0] ?? 0);
            expect(index.size()).toBeLessThanOrEqual(limits.totalBlocks);
            for (let e = 0; e <= 30; e++) {
              expect(index.matches(hashes).get(`e${e}`) ?? 0).toBeLessThanOrEqual(limits.perEngineBlocks);
            }
          }
        },
      ),
    );
  });

  it("learns the engine's cache size from what it reports cached: shrinks on misses, grows on surprises", () => {
    const index = new PrefixIndex({ perEngineBlocks: 1000, totalBlocks: 10_000 });
    index.record('a', blocks(10));
    expect(index.capacityOf('a')).toBe(1000);
    // The index expected 10 blocks; the engine had 2: it holds less than the index believed.
    index.observe('a', 10, 2);
    expect(index.capacityOf('a')).toBe(900);
    for (let i = 0; i < 100; i++) index.observe('a', 10, 0);
    expect(index.capacityOf('a')).toBe(64);
    // Within a block (and 5%) is agreement, not news.
    index.observe('a', 10, 9);
    expect(index.capacityOf('a')).toBe(64);
    // The engine had 40 blocks where the index expected 10: the index forgot too soon.
    index.observe('a', 10, 40);
    expect(index.capacityOf('a')).toBe(94);
  });

  it('keeps its size for an engine that never reports a cached token (nothing to learn from)', () => {
    const index = new PrefixIndex({ perEngineBlocks: 1000, totalBlocks: 10_000 });
    index.record('silent', blocks(10));
    for (let i = 0; i < 20; i++) index.observe('silent', 10, 0);
    expect(index.capacityOf('silent')).toBe(1000);
  });

  it('drops the oldest blocks when it learns an engine holds fewer', () => {
    const index = new PrefixIndex({ perEngineBlocks: 100, totalBlocks: 1000 });
    index.record('a', blocks(50));
    index.record('a', blocks(50, 500));
    index.observe('a', 50, 1); // a miss, after a hit elsewhere taught it the engine reports
    index.observe('a', 50, 1);
    expect(index.capacityOf('a')).toBe(81);
    expect(index.matches(blocks(50, 500)).get('a')).toBe(50);
    expect(index.matches(blocks(50)).get('a')).toBe(31);
  });

  it('turns reported cached tokens into blocks by their share of the prompt', () => {
    expect(cachedBlocksOf(10, { promptTokens: 1000, cachedTokens: 800 })).toBe(8);
    expect(cachedBlocksOf(10, { promptTokens: 1000, cachedTokens: 5000 })).toBe(10);
    expect(cachedBlocksOf(10, { promptTokens: 0, cachedTokens: 0 })).toBe(0);
  });

  it('forgets an engine that left', () => {
    const index = new PrefixIndex();
    index.record('a', blocks(3));
    index.forget('a');
    expect(index.matches(blocks(3))).toEqual(new Map());
    expect(index.size()).toBe(0);
  });
});
