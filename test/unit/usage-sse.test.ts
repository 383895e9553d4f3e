/**
 * Usage read out of relayed SSE streams shaped like the engines' own: vLLM chat and completions
 * streams (with and without the usage chunk), Anthropic Messages and the Responses API — and
 * the usage chunk the gateway asked for, stripped again when the client did not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseUsageTap } from '../../src/usage/sse-usage.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

const head =
  '"id":"chatcmpl-9f1","object":"chat.completion.chunk","created":1718000000,"model":"llama-3.1-8b"';
const chunk = (delta: object, finish: string | null = null) =>
  `data: {${head},"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]}\n\n`;
const usageChunk = `data: {${head},"choices":[],"usage":{"prompt_tokens":12,"total_tokens":17,"completion_tokens":5}}\n\n`;
const done = 'data: [DONE]\n\n';

/** A vLLM chat stream: role, five content chunks, the finish, then (if asked) usage, then [DONE]. */
function chatStream(withUsage: boolean): string[] {
  return [
    chunk({ role: 'assistant', content: '' }),
    ...['Hel', 'lo', ' the', 're', '!'].map((content) => chunk({ content })),
    chunk({ content: '' }, 'stop'),
    ...(withUsage ? [usageChunk] : []),
    done,
  ];
}

const crlf = (events: string[]) => events.map((e) => e.replace(/\n/g, '\r\n'));

/** Pushes the events in groups (cut only at event boundaries) and returns what went out. */
function relay(tap: SseUsageTap, events: string[], groups: number[] = []): string {
  const cuts = [...new Set(groups.map((g) => g % (events.length + 1)))].sort((a, b) => a - b);
  let out = '';
  let from = 0;
  for (const to of [...cuts, events.length]) {
    out += dec.decode(tap.push(enc.encode(events.slice(from, to).join(''))));
    from = to;
  }
  return out;
}

describe('SseUsageTap on vLLM chat streams', () => {
  it('reads the usage chunk and passes it on when the client asked for it', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    const events = chatStream(true);
    expect(relay(tap, events)).toBe(events.join(''));
    expect(tap.usage()).toEqual({ promptTokens: 12, completionTokens: 5, cachedTokens: 0 });
    expect(tap.completionChunks()).toBe(5);
  });

  it('reads the usage chunk and strips it when only the gateway asked', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    expect(relay(tap, chatStream(true))).toBe(chatStream(false).join(''));
    expect(tap.usage()).toEqual({ promptTokens: 12, completionTokens: 5, cachedTokens: 0 });
    expect(tap.completionChunks()).toBe(5);
  });

  it('has no usage, only a chunk count, for a stream without the usage chunk', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    const events = chatStream(false);
    const bytes = enc.encode(events.join(''));
    expect(tap.push(bytes)).toBe(bytes); // the very same bytes when nothing is stripped
    expect(tap.usage()).toBeNull();
    expect(tap.completionChunks()).toBe(5);
  });

  it('gives the same bytes, usage and count however the events are grouped, LF or CRLF', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        (withUsage, strip, useCrlf, groups) => {
          const events = useCrlf ? crlf(chatStream(withUsage)) : chatStream(withUsage);
          const tap = new SseUsageTap({ stripUsageChunk: strip });
          const expected = events.filter((e) => !(strip && e.includes('"choices":[],"usage"')));
          expect(relay(tap, events, groups)).toBe(expected.join(''));
          expect(tap.usage()).toEqual(
            withUsage ? { promptTokens: 12, completionTokens: 5, cachedTokens: 0 } : null,
          );
          expect(tap.completionChunks()).toBe(5);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('strips a usage chunk in the middle of a push, keeping the events around it', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    const events = [chunk({ content: 'a' }, 'stop'), usageChunk, done];
    expect(dec.decode(tap.push(enc.encode(events.join(''))))).toBe(events[0]! + done);
  });

  it('passes malformed events through untouched, and never throws', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    const events = [
      'data: {"choices":[{"delta":{"content":"x"}}]\n\n', // torn JSON
      'data: not json\n\n',
      ': keep-alive comment\n\n',
      'event: ping\n\n',
      'data: {"choices":[],"usage":"lots"}\n\n', // usage not an object: not the usage chunk
      'data: {"choices":[],"usage":{"prompt_tokens":-1}}\n\n', // stripped, but unusable
      'data: [1,2,3]\n\n',
      'data: null\n\n',
      'retry: 1000\n\n',
      'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n',
    ];
    const expected = events.filter((_, i) => i !== 5).join('');
    expect(relay(tap, events)).toBe(expected);
    expect(tap.usage()).toBeNull();
    expect(tap.completionChunks()).toBe(1);
  });

  it('never throws on arbitrary event text', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 60 })), fc.boolean(), (bodies, strip) => {
        const tap = new SseUsageTap({ stripUsageChunk: strip });
        const events = bodies.map((b) => `data: ${b.replace(/\n/g, ' ')}\n\n`);
        expect(() => relay(tap, events)).not.toThrow();
      }),
    );
  });

  it('joins multi-line data and reads the last usage of continuous usage stats', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    const events = [
      `data: {${head},\ndata: "choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":4,"completion_tokens":1}}\n\n`,
      `data:{${head},"choices":[{"index":0,"delta":{"content":"b"}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n`,
      `data: {${head},"choices":[{"index":0,"delta":{"content":"c"}}],"usage":null}\n\n`,
    ];
    relay(tap, events);
    expect(tap.usage()).toEqual({ promptTokens: 4, completionTokens: 2, cachedTokens: 0 });
    expect(tap.completionChunks()).toBe(3);
  });

  it('counts reasoning and tool-call chunks as completion, and not empty or role-only ones', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    relay(tap, [
      chunk({ role: 'assistant' }),
      chunk({ reasoning_content: 'hmm' }),
      chunk({ reasoning: 'so' }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
      chunk({ content: null }),
      chunk({ tool_calls: [] }),
    ]);
    expect(tap.completionChunks()).toBe(3);
  });

  it('reads completions streams (choices[].text)', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    const text = (t: string) =>
      `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":${JSON.stringify(t)},"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n`;
    const usage =
      'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"total_tokens":6,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}\n\n';
    expect(relay(tap, [text(' a'), text(' b'), text(''), text(' c'), usage, done])).toBe(
      text(' a') + text(' b') + text('') + text(' c') + done,
    );
    expect(tap.usage()).toEqual({ promptTokens: 3, completionTokens: 3, cachedTokens: 2 });
    expect(tap.completionChunks()).toBe(3);
  });
});

describe('SseUsageTap on Anthropic Messages streams', () => {
  const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const stream = [
    event('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude',
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 25,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 10,
          output_tokens: 1,
        },
      },
    }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    event('ping', { type: 'ping' }),
    ...['Hello', ' there', '!'].map((text) =>
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text },
      }),
    ),
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 15 },
    }),
    event('message_stop', { type: 'message_stop' }),
  ];

  it('combines message_start input with message_delta output, and strips nothing', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    expect(relay(tap, stream, [3, 6])).toBe(stream.join(''));
    expect(tap.usage()).toEqual({ promptTokens: 35, completionTokens: 15, cachedTokens: 10 });
    expect(tap.completionChunks()).toBe(3);
  });

  it('has the input (and early output) count from message_start alone, for a cut stream', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    relay(tap, stream.slice(0, 4));
    expect(tap.usage()).toEqual({ promptTokens: 35, completionTokens: 1, cachedTokens: 10 });
    expect(tap.completionChunks()).toBe(1);
  });

  it('takes input counts that a newer message_delta repeats', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    relay(tap, [
      stream[0]!,
      event('message_delta', {
        type: 'message_delta',
        delta: {},
        usage: { input_tokens: 30, cache_read_input_tokens: null, output_tokens: 7 },
      }),
    ]);
    expect(tap.usage()).toEqual({ promptTokens: 40, completionTokens: 7, cachedTokens: 10 });
  });
});

describe('SseUsageTap on Responses API streams', () => {
  const event = (data: { type: string; [field: string]: unknown }) =>
    `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
  const response = (status: string, usage: object | null) => ({
    id: 'resp_1',
    object: 'response',
    status,
    model: 'm',
    output: [],
    usage,
  });
  const stream = [
    event({ type: 'response.created', sequence_number: 0, response: response('in_progress', null) }),
    event({ type: 'response.in_progress', sequence_number: 1, response: response('in_progress', null) }),
    ...['Hi', ' you'].map((delta, i) =>
      event({
        type: 'response.output_text.delta',
        sequence_number: 2 + i,
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta,
      }),
    ),
    event({ type: 'response.output_text.done', sequence_number: 4, item_id: 'msg_1', text: 'Hi you' }),
    event({
      type: 'response.completed',
      sequence_number: 5,
      response: response('completed', {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 2,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 12,
      }),
    }),
  ];

  it('reads response.usage from response.completed and counts text deltas', () => {
    const tap = new SseUsageTap({ stripUsageChunk: true });
    expect(relay(tap, crlf(stream), [1, 2, 5])).toBe(crlf(stream).join(''));
    expect(tap.usage()).toEqual({ promptTokens: 10, completionTokens: 2, cachedTokens: 4 });
    expect(tap.completionChunks()).toBe(2);
  });

  it('goes by the event line when the data has no type', () => {
    const tap = new SseUsageTap({ stripUsageChunk: false });
    relay(tap, ['event: response.output_text.delta\ndata: {"delta":"x"}\n\n']);
    expect(tap.completionChunks()).toBe(1);
  });

  it('counts output chunks without parsing them exactly as parsing them would', () => {
    // Deltas whose strings look like keys, quotes and braces: the unparsed count must not be fooled.
    const text = fc.oneof(
      fc.constant(''),
      fc.string(),
      fc.constantFrom('"content":"x', '{"text":"y"}', '\\"', '"tool_calls":[{', 'usage', '"choices":'),
    );
    const delta = fc.record(
      {
        role: text,
        content: text,
        reasoning_content: text,
        tool_calls: fc.array(fc.record({ index: fc.nat(3), id: fc.string() }), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    const carries = (d: { content?: string; reasoning_content?: string; tool_calls?: unknown[] }) =>
      Boolean(d.content) || Boolean(d.reasoning_content) || (d.tool_calls?.length ?? 0) > 0;
    fc.assert(
      fc.property(fc.array(delta, { maxLength: 12 }), (deltas) => {
        const tap = new SseUsageTap({ stripUsageChunk: false });
        tap.push(enc.encode(deltas.map((d) => chunk(d)).join('')));
        expect(tap.completionChunks()).toBe(deltas.filter(carries).length);
      }),
      { numRuns: 2000 },
    );
  });
});
