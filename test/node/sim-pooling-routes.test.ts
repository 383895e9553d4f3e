/** vLLM's custom routes on the simulator: tokenizer, rerank, score, classify, pooling, Cohere embed, moderations. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../gpu-node/sim/index.ts';
import { clientFor, closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };

async function post(simulator: RunningSimulator, path: string, body: unknown) {
  const response = await fetch(`${simulator.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('engine simulator: tokenizer routes', () => {
  it('tokenizes and detokenizes back to the same text, counting four characters per token', async () => {
    const simulator = await startTestSimulator(fast);
    const prompt = 'The quick brown fox jumps.';
    const tokenized = await post(simulator, '/tokenize', { model: MODEL, prompt, return_token_strs: true });
    expect(tokenized.body).toMatchObject({ count: Math.ceil(prompt.length / 4), max_model_len: 131072 });
    expect(tokenized.body.token_strs.join('')).toBe(prompt);
    const detokenized = await post(simulator, '/detokenize', { model: MODEL, tokens: tokenized.body.tokens });
    expect(detokenized.body).toEqual({ prompt });
    expect((await post(simulator, '/v1/tokenize', { prompt: 'abcd' })).body.count).toBe(1);
  });

  it('treats a prompt sent as the ids /tokenize returned as the same prompt as its text', async () => {
    const simulator = await startTestSimulator(fast);
    const prompt = 'Token ids are the same prompt as their text.';
    const { body } = await post(simulator, '/tokenize', { prompt });
    const asText = await clientFor(simulator).completions.create({ model: MODEL, prompt, max_tokens: 5 });
    const asIds = await clientFor(simulator).completions.create({
      model: MODEL,
      prompt: body.tokens,
      max_tokens: 5,
    });
    expect(asIds.choices[0]?.text).toBe(asText.choices[0]?.text);
    expect(asIds.usage?.prompt_tokens).toBe(asText.usage?.prompt_tokens);
  });

  it('tokenizes chat messages through the chat template', async () => {
    const simulator = await startTestSimulator(fast);
    const messages = [{ role: 'user', content: 'hi' }];
    const tokenized = await post(simulator, '/tokenize', { model: MODEL, messages });
    const completion = await clientFor(simulator).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
    expect(tokenized.body.count).toBe(completion.usage?.prompt_tokens);
  });
});

describe('engine simulator: pooling routes', () => {
  it('reranks documents by relevance, sorted, keeping original indexes, honouring top_n', async () => {
    const simulator = await startTestSimulator({ ...fast, task: 'embed' });
    const documents = ['bananas are yellow', 'the capital of France is Paris', 'Paris has museums'];
    for (const path of ['/rerank', '/v1/rerank', '/v2/rerank']) {
      const { status, body } = await post(simulator, path, {
        model: MODEL,
        query: 'capital of France',
        documents,
        top_n: 2,
      });
      expect(status).toBe(200);
      expect(body.results).toHaveLength(2);
      expect(body.results[0]).toMatchObject({ index: 1, document: { text: documents[1] } });
      expect(body.results[0].relevance_score).toBeGreaterThan(body.results[1].relevance_score);
      expect(body.usage.total_tokens).toBeGreaterThan(0);
    }
  });

  it('scores text_1 against each text_2, and pairwise for equal lists', async () => {
    const simulator = await startTestSimulator({ ...fast, task: 'embed' });
    const one = await post(simulator, '/score', {
      model: MODEL,
      text_1: 'red apple',
      text_2: ['red apple pie', 'blue sky'],
    });
    expect(one.body.data).toHaveLength(2);
    expect(one.body.data[0].score).toBeGreaterThan(one.body.data[1].score);
    expect(one.body.data[0]).toMatchObject({ index: 0, object: 'score' });
    const pairs = await post(simulator, '/v1/score', {
      model: MODEL,
      text_1: ['a', 'b'],
      text_2: ['a', 'c'],
    });
    expect(pairs.body.data).toHaveLength(2);
    const mismatched = await post(simulator, '/score', {
      model: MODEL,
      text_1: ['a', 'b'],
      text_2: ['a', 'b', 'c'],
    });
    expect(mismatched.status).toBe(400);
  });

  it('classifies, pools and embeds the Cohere way', async () => {
    const simulator = await startTestSimulator({ ...fast, task: 'embed', embeddingDim: 32 });
    const classified = await post(simulator, '/classify', { model: MODEL, input: ['good', 'bad'] });
    expect(classified.body.data).toHaveLength(2);
    for (const entry of classified.body.data) {
      expect(entry.probs.reduce((sum: number, p: number) => sum + p, 0)).toBeCloseTo(1, 5);
      expect(['negative', 'positive']).toContain(entry.label);
      expect(entry.num_classes).toBe(2);
    }
    const pooled = await post(simulator, '/pooling', { model: MODEL, input: 'pool me' });
    expect(pooled.body.data[0]).toMatchObject({ index: 0, object: 'pooling' });
    expect(pooled.body.data[0].data).toHaveLength(32);
    const cohere = await post(simulator, '/v2/embed', {
      model: MODEL,
      texts: ['hello', 'goodbye'],
      input_type: 'search_document',
      embedding_types: ['float'],
      output_dimension: 8,
    });
    expect(cohere.body.embeddings.float).toHaveLength(2);
    expect(cohere.body.embeddings.float[0]).toHaveLength(8);
    expect(cohere.body.meta.billed_units.input_tokens).toBe(2 + 2);
    expect(await readMetric(simulator, 'vllm:request_success_total', { finished_reason: 'stop' })).toBe(3);
  });

  it('moderates with OpenAI categories, flagging violent words', async () => {
    const client = clientFor(await startTestSimulator({ ...fast, task: 'embed' }));
    const moderation = await client.moderations.create({
      model: MODEL,
      input: ['have a nice day', 'I will kill it'],
    });
    expect(moderation.results.map((result) => result.flagged)).toEqual([false, true]);
    expect(moderation.results[1]?.categories.violence).toBe(true);
    expect(moderation.results[0]?.category_scores.hate).toBeLessThan(0.5);
  });

  it('refuses pooling routes on a generate model and generation routes on an embed model', async () => {
    const generator = await startTestSimulator(fast);
    const embedder = await startTestSimulator({ ...fast, task: 'embed' });
    const rerank = await post(generator, '/rerank', { model: MODEL, query: 'q', documents: ['d'] });
    expect(rerank).toMatchObject({
      status: 400,
      body: { error: { message: 'The model does not support Rerank API' } },
    });
    const responses = await post(embedder, '/v1/responses', { model: MODEL, input: 'x' });
    expect(responses.body.error.message).toBe('The model does not support Responses API');
    expect((await post(embedder, '/tokenize', { prompt: 'x' })).status).toBe(200);
  });
});
