/** Anthropic's Messages API on the simulator, driven with the official @anthropic-ai/sdk client. */
import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../gpu-node/sim/index.ts';
import { closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };

function anthropicFor(simulator: RunningSimulator, apiKey = 'unused'): Anthropic {
  return new Anthropic({ baseURL: simulator.url, apiKey, maxRetries: 0 });
}

const user = (content: string) => [{ role: 'user' as const, content }];

describe('engine simulator: Anthropic Messages API', () => {
  it('answers a message with a text block, end_turn and usage', async () => {
    const simulator = await startTestSimulator(fast);
    const message = await anthropicFor(simulator).messages.create({
      model: MODEL,
      max_tokens: 1024,
      system: 'You are terse.',
      messages: user('Hello'),
    });
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.stop_reason).toBe('end_turn');
    const [block] = message.content;
    if (block?.type !== 'text') throw new Error('expected a text block');
    expect(block.text.split(' ')).toHaveLength(64); // the natural length, under max_tokens
    expect(message.usage.output_tokens).toBe(64);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(await readMetric(simulator, 'vllm:generation_tokens_total')).toBe(64);
  });

  it('stops at max_tokens when it is below the natural length', async () => {
    const message = await anthropicFor(await startTestSimulator(fast)).messages.create({
      model: MODEL,
      max_tokens: 5,
      messages: user('Hello'),
    });
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(5);
  });

  it('streams message_start, content block events, message_delta with usage and message_stop', async () => {
    const client = anthropicFor(await startTestSimulator(fast));
    const stream = client.messages.stream({ model: MODEL, max_tokens: 8, messages: user('Stream') });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(final.content[0]).toEqual({ type: 'text', text });
    expect(final.usage.output_tokens).toBe(8);
    expect(final.stop_reason).toBe('max_tokens');
  });

  it('stops at a stop sequence and names it', async () => {
    const client = anthropicFor(await startTestSimulator(fast));
    const full = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('words') });
    const text = full.content[0]?.type === 'text' ? full.content[0].text : '';
    const stop = ` ${text.split(' ')[3]}`;
    const stopped = await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: user('words'),
      stop_sequences: [stop],
    });
    expect(stopped.stop_reason).toBe('stop_sequence');
    expect(stopped.stop_sequence).toBe(stop);
  });

  it('uses a tool with input that fits its schema, streamed as input_json_delta', async () => {
    const client = anthropicFor(await startTestSimulator(fast));
    const tools: Anthropic.Tool[] = [
      {
        name: 'get_stock',
        description: 'Stock level',
        input_schema: {
          type: 'object',
          properties: { sku: { type: 'string' }, warehouse: { type: 'integer' } },
          required: ['sku'],
        },
      },
    ];
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools,
      messages: user('Stock?'),
    });
    expect(message.stop_reason).toBe('tool_use');
    const [block] = message.content;
    if (block?.type !== 'tool_use') throw new Error('expected a tool_use block');
    expect(block.id).toMatch(/^toolu_/);
    expect(block.input).toMatchObject({ sku: expect.any(String) });

    const streamed = await client.messages
      .stream({
        model: MODEL,
        max_tokens: 200,
        tools,
        tool_choice: { type: 'tool', name: 'get_stock' },
        messages: user('Again'),
      })
      .finalMessage();
    expect(streamed.content[0]).toMatchObject({
      type: 'tool_use',
      name: 'get_stock',
      input: { sku: expect.any(String) },
    });

    const answered = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools,
      messages: [
        ...user('Stock?'),
        { role: 'assistant', content: message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: block.id, content: '12' }] },
      ],
    });
    expect(answered.stop_reason).toBe('end_turn');
  });

  it('counts tokens as the prompt is counted', async () => {
    const client = anthropicFor(await startTestSimulator(fast));
    const request = { model: MODEL, messages: user('Count me, please.') };
    const counted = await client.messages.countTokens(request);
    const message = await client.messages.create({ ...request, max_tokens: 1 });
    expect(counted.input_tokens).toBe(message.usage.input_tokens);
  });

  it('answers Anthropic-shaped errors: a bad key, an unknown model, a missing max_tokens', async () => {
    const simulator = await startTestSimulator({ ...fast, apiKey: 'sekret' });
    await expect(
      anthropicFor(simulator, 'wrong').messages.create({ model: MODEL, max_tokens: 1, messages: user('x') }),
    ).rejects.toMatchObject({
      status: 401,
      error: { type: 'error', error: { type: 'authentication_error' } },
    });
    await expect(
      anthropicFor(simulator, 'sekret').messages.create({
        model: 'claude-nope',
        max_tokens: 1,
        messages: user('x'),
      }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    const ok = await anthropicFor(simulator, 'sekret').messages.create({
      model: MODEL,
      max_tokens: 1,
      messages: user('x'),
    });
    expect(ok.usage.output_tokens).toBe(1);

    const missing = await fetch(`${simulator.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'sekret', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, messages: user('x') }),
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') },
    });
  });
});
