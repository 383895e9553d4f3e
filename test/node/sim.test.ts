import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { clientFor, closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

interface StreamChunk {
  system_fingerprint: string;
  choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
  usage?: { completion_tokens: number };
}

describe('engine simulator: OpenAI API', () => {
  it('answers a chat completion with usage and its engine id in system_fingerprint', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const completion = await clientFor(simulator).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say something.' }],
      max_tokens: 7,
      top_k: 5, // a vLLM extra: accepted and ignored
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);

    expect(completion.system_fingerprint).toContain('eng-test');
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.choices[0]?.message.content?.split(' ')).toHaveLength(7);
    expect(completion.usage).toMatchObject({
      completion_tokens: 7,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + 7);
  });

  it('streams a role chunk, one chunk per token, a finish chunk, a usage chunk and [DONE]', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const response = await fetch(`${simulator.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'Stream, please.' }],
        max_tokens: 4,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-sim-engine-id')).toBe('eng-test');
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event.replace(/^data: /, '')) as StreamChunk);
    expect(chunks).toHaveLength(1 + 4 + 1 + 1);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.slice(1, 5).every((chunk) => (chunk.choices[0]?.delta.content ?? '').length > 0)).toBe(
      true,
    );
    expect(chunks[5]?.choices[0]?.finish_reason).toBe('length');
    expect(chunks[6]?.choices).toEqual([]);
    expect(chunks[6]?.usage?.completion_tokens).toBe(4);
    expect(chunks.every((chunk) => chunk.system_fingerprint.includes('eng-test'))).toBe(true);
  });

  it('streams completions through the openai client, with the final usage chunk', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const stream = await clientFor(simulator).completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text.split(' ')).toHaveLength(3);
    expect(usage?.completion_tokens).toBe(3);
    expect(usage?.prompt_tokens).toBe(Math.ceil('Once upon a time'.length / 4));
  });

  it('returns the same unit-length embedding for the same input, in float and base64', async () => {
    const simulator = await startTestSimulator({ task: 'embed', embeddingDim: 64, timeScale: 0.01 });
    const client = clientFor(simulator);
    const first = await client.embeddings.create({ model: MODEL, input: ['alpha', 'beta'] });
    const again = await client.embeddings.create({ model: MODEL, input: 'alpha', encoding_format: 'float' });

    const alpha = first.data[0]?.embedding ?? [];
    expect(alpha).toHaveLength(64);
    expect(Math.hypot(...alpha)).toBeCloseTo(1, 5);
    expect(again.data[0]?.embedding).toEqual(alpha);
    expect(first.data[1]?.embedding).not.toEqual(alpha);
    expect(first.usage.prompt_tokens).toBe(2 + 1); // four characters per token, rounded up
  });

  it('refuses the API its task does not serve with 400, like a vLLM pooling or generation model', async () => {
    const embedder = clientFor(await startTestSimulator({ task: 'embed' }));
    const generator = clientFor(await startTestSimulator({ task: 'generate' }));
    await expect(
      embedder.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(generator.embeddings.create({ model: MODEL, input: 'hi' })).rejects.toMatchObject({
      status: 400,
    });
  });

  it('answers vLLM-shaped errors: 404 for another model, 400 for bad JSON or a missing model', async () => {
    const simulator = await startTestSimulator();
    const post = (body: string) =>
      fetch(`${simulator.url}/v1/chat/completions`, { method: 'POST', body }).then(async (response) => ({
        status: response.status,
        body: await response.json(),
      }));
    const wrongModel = await post(
      JSON.stringify({ model: 'other', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(wrongModel).toMatchObject({
      status: 404,
      body: { error: { type: 'NotFoundError', param: 'model', code: 404 } },
    });
    expect(await post('{not json')).toMatchObject({
      status: 400,
      body: { error: { type: 'BadRequestError' } },
    });
    const missingModel = await post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
    expect(missingModel).toMatchObject({ status: 400, body: { error: { param: 'model' } } });
  });

  it('lists the served model on /v1/models', async () => {
    const simulator = await startTestSimulator({ maxModelLen: 8192 });
    const models = await clientFor(simulator).models.list();
    expect(models.data).toEqual([
      expect.objectContaining({ id: MODEL, object: 'model', max_model_len: 8192 }),
    ]);
  });

  it('requires the API key on every route except /health', async () => {
    const simulator = await startTestSimulator({ apiKey: 'sekret', timeScale: 0.01 });
    expect((await fetch(`${simulator.url}/health`)).status).toBe(200);
    const metrics = await fetch(`${simulator.url}/metrics`);
    expect(metrics.status).toBe(401);
    expect(await metrics.json()).toMatchObject({ error: { message: 'Unauthorized', code: 401 } });
    await expect(clientFor(simulator, 'wrong').models.list()).rejects.toMatchObject({ status: 401 });
    const withKey = await clientFor(simulator, 'sekret').chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
    expect(withKey.usage?.completion_tokens).toBe(1);
    expect(
      await readMetric(simulator, 'vllm:generation_tokens_total', {}, { authorization: 'Bearer sekret' }),
    ).toBe(1);
  });

  it('answers 500 with an OpenAI-shaped error at fail-rate 1', async () => {
    const simulator = await startTestSimulator({ failRate: 1 });
    const response = await fetch(`${simulator.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: 'x' }),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: { message: expect.any(String), type: 'InternalServerError', param: null, code: 500 },
    });
  });

  it('answers 400 when prompt and max_tokens exceed the context length', async () => {
    const simulator = await startTestSimulator({ maxModelLen: 100 });
    await expect(
      clientFor(simulator).completions.create({ model: MODEL, prompt: 'x'.repeat(300), max_tokens: 50 }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('maximum context length is 100'),
    });
  });
});
