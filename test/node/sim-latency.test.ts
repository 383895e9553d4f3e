import { afterEach, describe, expect, it } from 'vitest';
import {
  clientFor,
  closeSimulators,
  longPrompt,
  MODEL,
  readMetric,
  startTestSimulator,
} from '../support/sim-helpers.ts';
import { waitFor } from '../support/wait-for.ts';

afterEach(closeSimulators);

describe('engine simulator: latency model', () => {
  it('serves a repeated long prompt from the prefix cache: cached tokens reported, prefill skipped', async () => {
    // ~1,100 prompt tokens at 5,000 tokens/s: ~220 ms of prefill the second request should not pay.
    const simulator = await startTestSimulator({
      prefillTokensPerS: 5000,
      decodeMsPerToken: 0,
      blockSize: 16,
    });
    const client = clientFor(simulator);
    const ask = async () => {
      const startedAt = performance.now();
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: longPrompt(600) }],
        max_tokens: 1,
      });
      return { usage: completion.usage, elapsedMs: performance.now() - startedAt };
    };

    const cold = await ask();
    const warm = await ask();

    expect(cold.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const cached = warm.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached % 16).toBe(0);
    expect(cached).toBeGreaterThan((warm.usage?.prompt_tokens ?? 0) - 16 - 1);
    expect(cached).toBeLessThan(warm.usage?.prompt_tokens ?? 0);
    expect(warm.elapsedMs).toBeLessThan(cold.elapsedMs / 2);
    expect(await readMetric(simulator, 'vllm:prefix_cache_hits_total')).toBe(cached);
  });

  it('shares cached blocks only up to where two conversations diverge', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const client = clientFor(simulator);
    const system = { role: 'system' as const, content: longPrompt(200, 'sys') };
    await client.chat.completions.create({
      model: MODEL,
      messages: [system, { role: 'user', content: 'a' }],
      max_tokens: 1,
    });
    const other = await client.chat.completions.create({
      model: MODEL,
      messages: [system, { role: 'user', content: longPrompt(200, 'different') }],
      max_tokens: 1,
    });
    const cached = other.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    // The two rendered prompts agree up to the start of the user's text; only whole blocks count.
    const commonPrefixTokens = Math.floor(`<|system|>\n${system.content}<|end|>\n<|user|>\n`.length / 4);
    expect(cached).toBeGreaterThan(commonPrefixTokens - 16);
    expect(cached).toBeLessThanOrEqual(commonPrefixTokens);
  });

  it('runs at most max-batch requests and queues the rest, as /metrics shows', async () => {
    const simulator = await startTestSimulator({ maxBatch: 1, decodeMsPerToken: 5 });
    const client = clientFor(simulator);
    const ask = (content: string) =>
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 40 });
    const both = Promise.all([ask('first'), ask('second')]);

    await waitFor(
      'one request running and one waiting',
      async () => {
        const running = await readMetric(simulator, 'vllm:num_requests_running', { model_name: MODEL });
        const waiting = await readMetric(simulator, 'vllm:num_requests_waiting', { model_name: MODEL });
        if (running !== 1 || waiting !== 1) throw new Error(`running ${running}, waiting ${waiting}`);
        return true;
      },
      { timeoutMs: 2_000 },
    );
    expect(await readMetric(simulator, 'vllm:kv_cache_usage_perc')).toBeGreaterThan(0);

    await both;
    expect(await readMetric(simulator, 'vllm:num_requests_running')).toBe(0);
    expect(await readMetric(simulator, 'vllm:request_success_total', { finished_reason: 'length' })).toBe(2);
    expect(await readMetric(simulator, 'vllm:generation_tokens_total')).toBe(80);
  });

  it('frees the batch slot at once when a streaming client disconnects', async () => {
    const simulator = await startTestSimulator({ maxBatch: 1, decodeMsPerToken: 5 });
    const abort = new AbortController();
    const response = await fetch(`${simulator.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'long' }],
        max_tokens: 2000,
        stream: true,
      }),
      signal: abort.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    expect(await readMetric(simulator, 'vllm:num_requests_running')).toBe(1);

    abort.abort();
    await waitFor(
      'the batch slot freed',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 0,
      { timeoutMs: 500 },
    );
    expect(await readMetric(simulator, 'vllm:request_success_total', { finished_reason: 'abort' })).toBe(1);
    const next = await clientFor(simulator).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'next' }],
      max_tokens: 2,
    });
    expect(next.usage?.completion_tokens).toBe(2);
  });

  it('answers 503 once the waiting queue is full', async () => {
    const simulator = await startTestSimulator({ maxBatch: 1, maxWaiting: 0, decodeMsPerToken: 5 });
    const client = clientFor(simulator);
    const ask = () =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 20,
      });
    const first = ask();
    await waitFor(
      'the first request running',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 1,
      { timeoutMs: 2_000 },
    );
    await expect(ask()).rejects.toMatchObject({ status: 503 });
    await first;
  });

  it('stops answering anything, /health included, once stall-after requests have arrived', async () => {
    const simulator = await startTestSimulator({ stallAfter: 1, timeScale: 0.01 });
    const client = clientFor(simulator);
    const ask = () =>
      client.chat.completions.create(
        { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 },
        { signal: AbortSignal.timeout(300) },
      );
    await expect(ask()).resolves.toBeDefined();
    await expect(ask()).rejects.toThrow();
    await expect(fetch(`${simulator.url}/health`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
  });
});
