/** The generation options the simulator honours, driven with the official openai client. */
import type OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientFor, closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };
const ask = (content: string) => [{ role: 'user' as const, content }];

const weatherTool: OpenAI.ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 7 },
      },
      required: ['city', 'unit'],
    },
  },
};

const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['open', 'shipped', 'closed'] },
    total: { type: 'number', minimum: 0 },
    express: { type: 'boolean' },
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } },
        required: ['sku', 'quantity'],
        additionalProperties: false,
      },
    },
    customer: { $ref: '#/$defs/customer' },
  },
  required: ['id', 'status', 'total', 'items', 'customer'],
  additionalProperties: false,
  $defs: {
    customer: {
      type: 'object',
      properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } },
      required: ['name', 'email'],
    },
  },
} as const;

describe('engine simulator: generation options', () => {
  it('answers n choices, each different, with usage summed over them', async () => {
    const simulator = await startTestSimulator(fast);
    const completion = await clientFor(simulator).chat.completions.create({
      model: MODEL,
      messages: ask('Give me three.'),
      n: 3,
      max_tokens: 6,
    });
    expect(completion.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    const texts = completion.choices.map((choice) => choice.message.content);
    expect(new Set(texts).size).toBe(3);
    expect(completion.usage?.completion_tokens).toBe(18);
    expect(await readMetric(simulator, 'vllm:request_success_total', { finished_reason: 'length' })).toBe(3);
  });

  it('streams n choices with their indexes and ends with a usage-only chunk', async () => {
    const simulator = await startTestSimulator(fast);
    const stream = await clientFor(simulator).chat.completions.create({
      model: MODEL,
      messages: ask('Two streams.'),
      n: 2,
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ['', ''];
    const finishes: Array<string | null> = [];
    let last: OpenAI.ChatCompletionChunk | undefined;
    for await (const chunk of stream) {
      last = chunk;
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.delta.content ?? '';
        if (choice.finish_reason !== null) finishes.push(choice.finish_reason);
      }
    }
    expect(texts.map((text) => text.split(' ').length)).toEqual([4, 4]);
    expect(finishes).toEqual(['length', 'length']);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(8);
  });

  it('gives the same text for the same seed and prompt, and another for another seed', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const withSeed = (seed: number) =>
      client.chat.completions
        .create({ model: MODEL, messages: ask('Roll.'), seed, max_tokens: 8 })
        .then((completion) => completion.choices[0]?.message.content);
    expect(await withSeed(7)).toBe(await withSeed(7));
    expect(await withSeed(7)).not.toBe(await withSeed(8));
  });

  it('stops before a stop string and reports it as the stop reason', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const request = { model: MODEL, messages: ask('Stop somewhere.'), max_tokens: 12 };
    const full = (await client.chat.completions.create(request)).choices[0]?.message.content ?? '';
    const stopWord = ` ${full.split(' ')[4]}`;
    const stopped = await client.chat.completions.create({ ...request, stop: [stopWord] });
    const choice = stopped.choices[0] as OpenAI.ChatCompletion.Choice & { stop_reason: string | null };
    expect(full.startsWith(choice.message.content ?? '')).toBe(true);
    expect(choice.message.content).not.toContain(stopWord);
    expect(choice.finish_reason).toBe('stop');
    expect(choice.stop_reason).toBe(stopWord);
  });

  it('honours max_completion_tokens', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: ask('Short.'),
      max_completion_tokens: 3,
    });
    expect(completion.usage?.completion_tokens).toBe(3);
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it('reports chat logprobs with top_logprobs, the emitted token first', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: ask('Probabilities.'),
      max_tokens: 5,
      logprobs: true,
      top_logprobs: 3,
    });
    const choice = completion.choices[0];
    const content = choice?.logprobs?.content ?? [];
    expect(content).toHaveLength(5);
    expect(content.map((entry) => entry.token).join('')).toBe(choice?.message.content);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]?.token).toBe(entry.token);
      const values = entry.top_logprobs.map((top) => top.logprob);
      expect([...values].sort((a, b) => b - a)).toEqual(values);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token)]);
    }
  });

  it('reports completions logprobs in the parallel-array shape', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const completion = await client.completions.create({
      model: MODEL,
      prompt: 'Once',
      max_tokens: 4,
      logprobs: 2,
    });
    const logprobs = completion.choices[0]?.logprobs;
    expect(logprobs?.tokens).toHaveLength(4);
    expect(logprobs?.tokens?.join('')).toBe(completion.choices[0]?.text);
    expect(logprobs?.token_logprobs).toHaveLength(4);
    expect(Object.keys(logprobs?.top_logprobs?.[0] ?? {})).toHaveLength(2);
    expect(logprobs?.text_offset?.[0]).toBe(0);
  });

  it('calls a tool with arguments that fit its parameters, and answers in text after the result', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const messages: OpenAI.ChatCompletionMessageParam[] = ask('Weather in Paris?');
    const first = await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool] });
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    const args = z
      .fromJSONSchema(weatherTool.function.parameters as never)
      .parse(JSON.parse(call.function.arguments));
    expect(args).toMatchObject({
      city: expect.any(String),
      unit: expect.stringMatching(/^(celsius|fahrenheit)$/),
    });

    const followUp = await client.chat.completions.create({
      model: MODEL,
      tools: [weatherTool],
      messages: [
        ...messages,
        choice!.message,
        { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' },
      ],
    });
    expect(followUp.choices[0]?.finish_reason).toBe('stop');
    expect(followUp.choices[0]?.message.content).toMatch(/\w/);
  });

  it('streams a tool call as deltas the openai stream helper assembles', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const stream = client.chat.completions.stream({
      model: MODEL,
      messages: ask('Weather?'),
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.id).toMatch(/^chatcmpl-tool-/);
    expect(JSON.parse(call.function.arguments)).toHaveProperty('city');
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('refuses tool_choice naming a tool that was not given', async () => {
    const client = clientFor(await startTestSimulator(fast));
    await expect(
      client.chat.completions.create({
        model: MODEL,
        messages: ask('x'),
        tools: [weatherTool],
        tool_choice: { type: 'function', function: { name: 'nope' } },
      }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('answers json_schema with JSON that matches the schema: types, required, enums, arrays, nesting, refs', async () => {
    const client = clientFor(await startTestSimulator(fast));
    for (const seed of [1, 2, 3]) {
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: ask('An order, please.'),
        seed,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'order', schema: orderSchema, strict: true },
        },
      });
      const order = z
        .fromJSONSchema(orderSchema as never)
        .parse(JSON.parse(completion.choices[0]?.message.content ?? ''));
      expect(order).toMatchObject({ status: expect.stringMatching(/^(open|shipped|closed)$/) });
      expect(completion.choices[0]?.finish_reason).toBe('stop');
    }
  });

  it('answers json_object with a JSON object', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: ask('JSON!'),
      response_format: { type: 'json_object' },
    });
    const value: unknown = JSON.parse(completion.choices[0]?.message.content ?? '');
    expect(typeof value).toBe('object');
  });

  it('runs /v1/chat/completions/batch: one choice per conversation, indexed in order', async () => {
    const simulator = await startTestSimulator(fast);
    const response = await fetch(`${simulator.url}/v1/chat/completions/batch`, {
      method: 'POST',
      body: JSON.stringify({
        model: MODEL,
        messages: [ask('first'), ask('second'), ask('third')],
        max_tokens: 2,
      }),
    });
    const body = (await response.json()) as OpenAI.ChatCompletion;
    expect(body.object).toBe('chat.completion');
    expect(body.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(body.usage?.completion_tokens).toBe(6);
    const streamed = await fetch(`${simulator.url}/v1/chat/completions/batch`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, messages: [ask('x')], stream: true }),
    });
    expect(streamed.status).toBe(400);
  });

  it('shortens embeddings to `dimensions`, still unit length', async () => {
    const simulator = await startTestSimulator({ ...fast, task: 'embed', embeddingDim: 64 });
    const client = clientFor(simulator);
    const short = await client.embeddings.create({ model: MODEL, input: 'alpha', dimensions: 16 });
    expect(short.data[0]?.embedding).toHaveLength(16);
    expect(Math.hypot(...(short.data[0]?.embedding ?? []))).toBeCloseTo(1, 5);
    await expect(
      client.embeddings.create({ model: MODEL, input: 'alpha', dimensions: 65 }),
    ).rejects.toMatchObject({
      status: 400,
    });
  });
});
