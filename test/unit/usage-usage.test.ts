/** Reserving tokens before a request, and reading what it used after: every engine's usage shape. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, reserveTokens } from '../../src/usage/estimate.ts';
import { asksForStreamUsage, withStreamUsage } from '../../src/usage/request-rewrite.ts';
import { normalizeUsage, totalTokens, usageFromJsonBody } from '../../src/usage/usage.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('estimatePromptTokens', () => {
  it.each([
    [0, 0],
    [1, 1],
    [4, 1],
    [5, 2],
    [4096, 1024],
    [-1, 0],
    [Number.NaN, 0],
  ])('%d bytes → %d tokens', (bytes, tokens) => {
    expect(estimatePromptTokens(bytes)).toBe(tokens);
  });

  it('is ceil(bytes / 4) for any size', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100_000_000 }), (bytes) => {
        const tokens = estimatePromptTokens(bytes);
        expect(tokens * 4).toBeGreaterThanOrEqual(bytes);
        expect((tokens - 1) * 4).toBeLessThan(bytes);
      }),
    );
  });
});

describe('reserveTokens', () => {
  it('adds the completion cap the body names, in order of precedence', () => {
    expect(
      reserveTokens({ max_completion_tokens: 100, max_tokens: 50, max_output_tokens: 10 }, 400, 16),
    ).toBe(200);
    expect(reserveTokens({ max_tokens: 50, max_output_tokens: 10 }, 400, 16)).toBe(150);
    expect(reserveTokens({ max_output_tokens: 10 }, 400, 16)).toBe(110);
    expect(reserveTokens({}, 400, 16)).toBe(116);
  });

  it('multiplies the completion part by n', () => {
    expect(reserveTokens({ max_tokens: 50, n: 3 }, 400, 16)).toBe(250);
    expect(reserveTokens({ n: 2 }, 3, 16)).toBe(33);
  });

  it('passes over values that are not positive whole numbers', () => {
    expect(reserveTokens({ max_completion_tokens: null, max_tokens: 50 }, 0, 16)).toBe(50);
    expect(reserveTokens({ max_completion_tokens: '100', max_tokens: 1.5 }, 0, 16)).toBe(16);
    expect(reserveTokens({ max_tokens: 0, max_output_tokens: -4 }, 0, 16)).toBe(16);
    expect(reserveTokens({ max_tokens: 10, n: 0 }, 0, 16)).toBe(10);
    expect(reserveTokens({ max_tokens: 10, n: '2' }, 0, 16)).toBe(10);
  });

  it('is the prompt estimate plus cap × choices', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000_000 }),
        fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 128 }), { nil: undefined }),
        fc.nat({ max: 100_000 }),
        (bytes, cap, n, fallback) => {
          expect(reserveTokens({ max_tokens: cap, n }, bytes, fallback)).toBe(
            Math.ceil(bytes / 4) + (cap ?? fallback) * (n ?? 1),
          );
        },
      ),
    );
  });
});

describe('normalizeUsage', () => {
  it('reads OpenAI chat and completions usage, cached tokens included', () => {
    expect(
      normalizeUsage({
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 64 },
      }),
    ).toEqual({ promptTokens: 120, completionTokens: 30, cachedTokens: 64 });
    // vLLM sends prompt_tokens_details: null when prefix caching reports nothing.
    expect(
      normalizeUsage({
        prompt_tokens: 12,
        total_tokens: 17,
        completion_tokens: 5,
        prompt_tokens_details: null,
      }),
    ).toEqual({ promptTokens: 12, completionTokens: 5, cachedTokens: 0 });
  });

  it('reads embeddings usage, which has no completion', () => {
    expect(normalizeUsage({ prompt_tokens: 8, total_tokens: 8 })).toEqual({
      promptTokens: 8,
      completionTokens: 0,
      cachedTokens: 0,
    });
  });

  it('reads Responses API usage', () => {
    expect(
      normalizeUsage({
        input_tokens: 36,
        input_tokens_details: { cached_tokens: 12 },
        output_tokens: 87,
        output_tokens_details: { reasoning_tokens: 40 },
        total_tokens: 123,
      }),
    ).toEqual({ promptTokens: 36, completionTokens: 87, cachedTokens: 12 });
  });

  it('reads Anthropic usage, adding cache reads and writes to the prompt', () => {
    expect(
      normalizeUsage({
        input_tokens: 25,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 2000,
        output_tokens: 15,
      }),
    ).toEqual({ promptTokens: 2125, completionTokens: 15, cachedTokens: 2000 });
    expect(normalizeUsage({ input_tokens: 25, output_tokens: 15, cache_read_input_tokens: null })).toEqual({
      promptTokens: 25,
      completionTokens: 15,
      cachedTokens: 0,
    });
  });

  it.each([
    null,
    undefined,
    42,
    'usage',
    [],
    {},
    { total_tokens: 10 },
    { completion_tokens: 10 },
    { prompt_tokens: -1, completion_tokens: 2 },
    { prompt_tokens: 1, completion_tokens: -2 },
    { prompt_tokens: Number.NaN },
    { prompt_tokens: Number.POSITIVE_INFINITY },
    { prompt_tokens: '12', completion_tokens: 3 },
    { prompt_tokens: 12, completion_tokens: '3' },
    { prompt_tokens: 12, prompt_tokens_details: { cached_tokens: -1 } },
    { prompt_tokens: 12, prompt_tokens_details: 5 },
    { input_tokens: 'x', output_tokens: 1 },
    { input_tokens: 1, output_tokens: -1 },
    { input_tokens: 1, cache_read_input_tokens: -5 },
    { output_tokens: 3 },
  ])('refuses %j', (raw) => {
    expect(normalizeUsage(raw)).toBeNull();
  });

  it('never throws, and gives only finite non-negative counts', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        const usage = normalizeUsage(raw);
        if (usage) {
          for (const value of Object.values(usage)) {
            expect(Number.isFinite(value) && value >= 0).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('totals prompt and completion', () => {
    expect(totalTokens({ promptTokens: 10, completionTokens: 5, cachedTokens: 8 })).toBe(15);
  });
});

describe('usageFromJsonBody', () => {
  it('finds the usage of a whole answer', () => {
    const body = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'hi "usage": 1' }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    };
    expect(usageFromJsonBody(enc.encode(JSON.stringify(body)))).toEqual({
      promptTokens: 9,
      completionTokens: 2,
      cachedTokens: 0,
    });
    const anthropic = { type: 'message', content: [], usage: { input_tokens: 3, output_tokens: 4 } };
    expect(usageFromJsonBody(enc.encode(JSON.stringify(anthropic)))).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      cachedTokens: 0,
    });
  });

  it.each(['', 'not json', '{"usage":', '[1,2]', 'null', '{"choices":[]}', '{"usage":null}', '\u0000\u00ff'])(
    'gives null for %j',
    (text) => {
      expect(usageFromJsonBody(enc.encode(text))).toBeNull();
    },
  );

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => usageFromJsonBody(bytes)).not.toThrow();
      }),
    );
  });
});

describe('stream usage in the request', () => {
  it('tells whether the body asks for usage', () => {
    expect(asksForStreamUsage({ stream: true, stream_options: { include_usage: true } })).toBe(true);
    expect(asksForStreamUsage({ stream: true, stream_options: { include_usage: false } })).toBe(false);
    expect(asksForStreamUsage({ stream: true, stream_options: { include_usage: 'true' } })).toBe(false);
    expect(asksForStreamUsage({ stream: true, stream_options: null })).toBe(false);
    expect(asksForStreamUsage({ stream: true })).toBe(false);
  });

  it('asks for it, keeping the other stream options and fields', () => {
    const body = {
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: 'é ✓' }],
      stream_options: { continuous_usage_stats: true, include_usage: false },
    };
    const bytes = new TextEncoder().encode(JSON.stringify(body));
    const rewritten = JSON.parse(dec.decode(withStreamUsage(bytes, body))) as Record<string, unknown>;
    expect(rewritten).toEqual({
      ...body,
      stream_options: { continuous_usage_stats: true, include_usage: true },
    });
    expect(body.stream_options.include_usage).toBe(false); // the original is untouched
    const odd = { model: 'm', stream_options: 'x' };
    expect(
      JSON.parse(dec.decode(withStreamUsage(new TextEncoder().encode(JSON.stringify(odd)), odd))),
    ).toEqual({
      model: 'm',
      stream_options: { include_usage: true },
    });
    expect(asksForStreamUsage(rewritten)).toBe(true);
  });

  it('splices the option into a body without stream_options, leaving every other byte as sent', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== 'stream_options'),
          fc.jsonValue(),
          { maxKeys: 6 },
        ),
        fc.constantFrom('', ' ', '\n  '),
        (fields, space) => {
          const text = `${space}{${space}${Object.entries(fields)
            .map(([k, v]) => `${JSON.stringify(k)}:${space}${JSON.stringify(v)}`)
            .join(`,${space}`)}${space}}`;
          const out = dec.decode(withStreamUsage(new TextEncoder().encode(text), fields));
          const parsed = JSON.parse(out) as Record<string, unknown>;
          expect(parsed.stream_options).toEqual({ include_usage: true });
          expect(
            out
              .replace('"stream_options":{"include_usage":true},', '')
              .replace('"stream_options":{"include_usage":true}', ''),
          ).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a seed past 2^53 exactly as the client wrote it', () => {
    const text = '{"model":"m","stream":true,"seed":12345678901234567890}';
    const out = dec.decode(
      withStreamUsage(new TextEncoder().encode(text), JSON.parse(text) as Record<string, unknown>),
    );
    expect(out).toContain('"seed":12345678901234567890');
  });
});
