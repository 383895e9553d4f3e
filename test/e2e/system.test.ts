/**
 * The whole system as `npm start` runs it — gateway on plain workerd, a real agent, real
 * simulator processes — driven with the official OpenAI client.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { noneAlive } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';

const CHAT = 'switchyard-sim-chat';
const EMBED = 'switchyard-sim-embed';

let system: LocalSystem;
let client: OpenAI;

beforeAll(async () => {
  // Short liveness clocks so a lost node is noticed within the test.
  system = await startLocalSystem({ NODE_UNHEALTHY_AFTER_MS: '2000', NODE_EVICT_AFTER_MS: '6000' });
  client = new OpenAI({ baseURL: `${system.gatewayUrl}/v1`, apiKey: system.demoKey, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  if (!system) return;
  const pids = system.processes();
  expect(pids.length).toBeGreaterThanOrEqual(4); // workerd, agent, two engines
  expect(await system.stop()).toBe(0);
  await waitFor('every process npm start ran to exit', () => noneAlive(pids), {
    timeoutMs: 10_000,
    intervalMs: 100,
  });
}, 60_000);

describe('the local system through the OpenAI client', () => {
  it('lists both served models', async () => {
    expect(await listedModels()).toEqual(expect.arrayContaining([CHAT, EMBED]));
  });

  it('answers a chat completion with usage', async () => {
    const reply = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Hello there' }],
      max_tokens: 8,
    });
    expect(reply.choices[0]!.message.content).toBeTruthy();
    expect(reply.usage!.completion_tokens).toBe(8);
    expect(reply.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it('streams a chat completion with a final usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Stream please' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(6);
  });

  it('returns embeddings', async () => {
    const result = await client.embeddings.create({ model: EMBED, input: ['one', 'two'] });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]!.embedding).toHaveLength(384);
  });

  it('answers 404 model_not_found for an unknown model', async () => {
    const error = await client.chat.completions
      .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('answers 401 for a bad key', async () => {
    const bad = new OpenAI({ baseURL: `${system.gatewayUrl}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    const error = await bad.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('losing a node', () => {
  it('stops routing to an agent whose heartbeats stop, evicts it, and takes it back when it returns', async () => {
    const agent = system.agentPid();
    process.kill(agent, 'SIGSTOP'); // heartbeats stop; the process and its engines stay
    try {
      // Unhealthy first: the model leaves /v1/models and requests are refused, not sent.
      await waitFor(
        'the chat model to leave /v1/models',
        async () => !(await listedModels()).includes(CHAT),
        {
          timeoutMs: 10_000,
          intervalMs: 100,
        },
      );
      expect(await chatStatus()).toBe(503);
      // Then evicted: the model is gone.
      await waitFor('chat to answer 404', () => chatAnswers(404), { timeoutMs: 10_000, intervalMs: 200 });
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    // The agent's next heartbeat is refused as unknown; it registers again.
    await waitFor('chat to answer 200', () => chatAnswers(200), { timeoutMs: 15_000, intervalMs: 200 });
  }, 45_000);
});

async function listedModels(): Promise<string[]> {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  return ids;
}

async function chatStatus(): Promise<number> {
  const res = await fetch(`${system.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.demoKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }),
    signal: AbortSignal.timeout(5000),
  }).catch(() => null);
  if (!res) return 0;
  await res.body?.cancel();
  return res.status;
}

/** True once a chat request gets `wanted`; otherwise throws with the status it got, for waitFor. */
async function chatAnswers(wanted: number): Promise<true> {
  const status = await chatStatus();
  if (status !== wanted) throw new Error(`chat answered ${status}`);
  return true;
}
