/** The Responses API with stored state, driven with the official openai client. */
import type OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { clientFor, closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';
import { waitFor } from '../support/wait-for.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };

describe('engine simulator: Responses API', () => {
  it('creates a response with output text and usage, and retrieves it by id', async () => {
    const simulator = await startTestSimulator(fast);
    const client = clientFor(simulator);
    const created = await client.responses.create({
      model: MODEL,
      input: 'Hello there',
      max_output_tokens: 6,
    });
    expect(created.id).toMatch(/^resp_/);
    expect(created.object).toBe('response');
    expect(created.output_text.split(' ')).toHaveLength(6);
    expect(created.status).toBe('incomplete'); // the simulator runs into a limit it was given
    expect(created.usage).toMatchObject({ output_tokens: 6, input_tokens_details: { cached_tokens: 0 } });

    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved.output_text).toBe(created.output_text);
    expect(await readMetric(simulator, 'vllm:generation_tokens_total')).toBe(6);
  });

  it('streams response.created, output_text deltas and response.completed with usage', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const stream = client.responses.stream({ model: MODEL, input: 'Stream it' });
    const types: string[] = [];
    let deltas = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
    }
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_item.added');
    expect(types).toContain('response.content_part.added');
    expect(types.at(-1)).toBe('response.completed');
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(deltas);
    expect(final.usage?.output_tokens).toBe(64); // --max-tokens-default
    expect((await client.responses.retrieve(final.id)).output_text).toBe(deltas);
  });

  it('continues from previous_response_id: the stored conversation is the prompt prefix', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const first = await client.responses.create({ model: MODEL, input: 'My name is Ada. '.repeat(20) });
    const second = await client.responses.create({
      model: MODEL,
      input: 'What is my name?',
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.usage?.input_tokens).toBeGreaterThan(
      (first.usage?.input_tokens ?? 0) + (first.usage?.output_tokens ?? 0),
    );
    // The first turn's prompt is a prefix of the second's, so its blocks come from the cache.
    expect(second.usage?.input_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('answers 404 in OpenAI shape for an unknown previous_response_id, and after delete', async () => {
    const simulator = await startTestSimulator(fast);
    const client = clientFor(simulator);
    await expect(
      client.responses.create({ model: MODEL, input: 'x', previous_response_id: 'resp_missing' }),
    ).rejects.toMatchObject({ status: 404, error: { type: 'invalid_request_error' } });

    const created = await client.responses.create({ model: MODEL, input: 'keep me' });
    const deleted: unknown = await client.responses.delete(created.id);
    expect(deleted).toEqual({ id: created.id, object: 'response.deleted', deleted: true });
    const raw = await fetch(`${simulator.url}/v1/responses/${created.id}`);
    expect(raw.status).toBe(404);
    expect(await raw.json()).toEqual({
      error: {
        message: `Response with id '${created.id}' not found.`,
        type: 'invalid_request_error',
        param: null,
        code: 404,
      },
    });
  });

  it('does not store a response created with store: false', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const created = await client.responses.create({ model: MODEL, input: 'forget me', store: false });
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('lists input items, newest first by default', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const created = await client.responses.create({
      model: MODEL,
      input: [
        { role: 'user', content: 'first' },
        { role: 'user', content: 'second' },
      ],
    });
    const items: OpenAI.Responses.ResponseItem[] = [];
    for await (const item of client.responses.inputItems.list(created.id)) items.push(item);
    expect(items.map((item) => (item.type === 'message' ? item.content[0] : undefined))).toEqual([
      { type: 'input_text', text: 'second' },
      { type: 'input_text', text: 'first' },
    ]);
  });

  it('cancels a background response while it runs, and refuses to cancel a finished one', async () => {
    const simulator = await startTestSimulator({ decodeMsPerToken: 20 });
    const client = clientFor(simulator);
    const queued = await client.responses.create({
      model: MODEL,
      input: 'long',
      background: true,
      max_output_tokens: 500,
    });
    expect(['queued', 'in_progress']).toContain(queued.status);
    await waitFor(
      'the response generating',
      async () => (await readMetric(simulator, 'vllm:generation_tokens_total')) > 0,
    );
    const cancelled = await client.responses.cancel(queued.id);
    expect(cancelled.status).toBe('cancelled');
    await waitFor(
      'the slot freed',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 0,
    );
    expect((await client.responses.retrieve(queued.id)).status).toBe('cancelled');

    const done = await clientFor(await startTestSimulator(fast)).responses.create({
      model: MODEL,
      input: 'x',
    });
    await expect(clientFor(simulator).responses.cancel(done.id)).rejects.toMatchObject({ status: 404 });
    const finished = await client.responses.create({ model: MODEL, input: 'quick', max_output_tokens: 1 });
    await expect(client.responses.cancel(finished.id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('Cannot cancel a synchronous response.'),
    });
  });

  it('calls a function tool, streamed as argument deltas', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const tools: OpenAI.Responses.FunctionTool[] = [
      {
        type: 'function',
        name: 'lookup',
        strict: true,
        parameters: {
          type: 'object',
          properties: { query: { type: 'string' } },
          required: ['query'],
          additionalProperties: false,
        },
      },
    ];
    const stream = client.responses.stream({
      model: MODEL,
      input: 'Find it',
      tools,
      tool_choice: 'required',
    });
    const final = await stream.finalResponse();
    const [call] = final.output;
    if (call?.type !== 'function_call') throw new Error(`expected a function call, got ${call?.type}`);
    expect(call.name).toBe('lookup');
    expect(JSON.parse(call.arguments)).toEqual({ query: expect.any(String) });

    const next = await client.responses.create({
      model: MODEL,
      previous_response_id: final.id,
      tools,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'found' }],
    });
    expect(next.output[0]?.type).toBe('message');
  });

  it('answers json_schema formats with matching JSON', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const response = await client.responses.create({
      model: MODEL,
      input: 'A point',
      text: {
        format: {
          type: 'json_schema',
          name: 'point',
          schema: {
            type: 'object',
            properties: { x: { type: 'number' }, y: { type: 'number' } },
            required: ['x', 'y'],
          },
        },
      },
    });
    expect(JSON.parse(response.output_text)).toEqual({ x: expect.any(Number), y: expect.any(Number) });
  });
});
