/**
 * The whole engine surface through the `npm start` system, driven by each ecosystem's own client:
 * the `openai` SDK (Responses, chat with tools / JSON mode / n / logprobs, audio, images), the
 * `@anthropic-ai/sdk` (messages, streaming, count_tokens, its errors), and a WebSocket client for
 * realtime. Then the fleet changes under a stored response: a second agent joins (the response
 * stays on its engine), and leaves (a response it held gets the clear 404).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../gpu-node/index.ts';
import { runGpuNode, writeConfig, type AgentProcess } from '../support/agent-process.ts';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { waitFor } from '../support/wait-for.ts';

const CHAT = 'switchyard-sim-chat';
const EMBED = 'switchyard-sim-embed';
const ADMIN_TOKEN = 'e2e-surface-admin-token';

let system: LocalSystem;
let openai: OpenAI;
let anthropic: Anthropic;
let second: AgentProcess | undefined;
const tempDirs: string[] = [];

beforeAll(async () => {
  system = await startLocalSystem({
    ADMIN_TOKEN,
    NODE_UNHEALTHY_AFTER_MS: '3000',
    NODE_EVICT_AFTER_MS: '8000',
  });
  openai = new OpenAI({ baseURL: `${system.gatewayUrl}/v1`, apiKey: system.demoKey, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: system.gatewayUrl, apiKey: system.demoKey, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  if (second && second.child.exitCode === null) second.child.kill('SIGKILL');
  if (system) expect(await system.stop()).toBe(0);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("the README's examples", () => {
  it('run as written against the system, with its URL and demo key', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const usage = readme.slice(readme.indexOf('## Using it'), readme.indexOf('## Documentation'));
    const blocks = [...usage.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const program = blocks
      .join('\n')
      .replaceAll('http://127.0.0.1:8080', system.gatewayUrl)
      .replaceAll("'sk-…'", `'${system.demoKey}'`);
    // The blocks are plain JavaScript (ES modules with top-level await), run from the repo root.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], {
      cwd: root,
      timeout: 30_000,
    });
    expect(stdout).toContain('completed');
    expect(stdout).toContain('2 384');
  });
});

describe('the openai SDK', () => {
  it('lists what each model serves beside the OpenAI fields', async () => {
    const models = new Map<string, Record<string, unknown>>();
    for await (const model of openai.models.list())
      models.set(model.id, model as unknown as Record<string, unknown>);
    const chat = models.get(CHAT) as {
      owned_by: string;
      max_model_len: number;
      capabilities: { routes: string[] };
    };
    expect(chat.owned_by).toBe('local');
    expect(chat.max_model_len).toBe(131072);
    expect(chat.capabilities.routes).toEqual(
      expect.arrayContaining(['POST /v1/responses', 'POST /v1/messages', 'GET /v1/realtime']),
    );
    const embed = models.get(EMBED) as { capabilities: { routes: string[] } };
    expect(embed.capabilities.routes).toContain('POST /v1/embeddings');
    expect(embed.capabilities.routes).not.toContain('POST /v1/chat/completions');
  });

  it('creates, retrieves, continues, lists the input of, and deletes a stored response', async () => {
    const first = await openai.responses.create({
      model: CHAT,
      input: 'Tell me a story',
      max_output_tokens: 8,
    });
    expect(first.id).toMatch(/^resp_/);
    expect(first.output_text.length).toBeGreaterThan(0);
    const retrieved = await openai.responses.retrieve(first.id);
    expect(retrieved.id).toBe(first.id);
    expect(retrieved.output_text).toBe(first.output_text);
    const next = await openai.responses.create({
      model: CHAT,
      input: 'And then?',
      previous_response_id: first.id,
      max_output_tokens: 8,
    });
    expect(next.previous_response_id).toBe(first.id);
    // The earlier turn is part of the prompt the engine saw: the continuation's input is longer.
    expect(next.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
    const items = await openai.responses.inputItems.list(next.id);
    expect(items.data.length).toBeGreaterThan(0);
    // The SDK types the answer as void; the engine's body says what happened.
    expect(await openai.responses.delete(first.id)).toMatchObject({ id: first.id, deleted: true });
    const gone = await openai.responses.retrieve(first.id).catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('streams a response, which can be retrieved by the id of its response.created event', async () => {
    const stream = await openai.responses.create({
      model: CHAT,
      input: 'Stream it',
      max_output_tokens: 6,
      stream: true,
    });
    let id = '';
    let text = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.output_text.delta') text += event.delta;
      // max_output_tokens reached: the stream ends with response.incomplete, as OpenAI's does.
      if (event.type === 'response.completed' || event.type === 'response.incomplete') completed = true;
    }
    expect(completed).toBe(true);
    expect(text.length).toBeGreaterThan(0);
    expect((await openai.responses.retrieve(id)).output_text).toBe(text);
  });

  it('answers chat with tools, JSON mode, n choices and logprobs', async () => {
    const tools = await openai.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ],
      tool_choice: 'required',
    });
    const call = tools.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(JSON.parse(call.type === 'function' ? call.function.arguments : '')).toHaveProperty('city');

    const json = await openai.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'JSON please' }],
      response_format: { type: 'json_object' },
    });
    expect(typeof JSON.parse(json.choices[0]!.message.content!)).toBe('object');

    const many = await openai.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Three ways' }],
      n: 3,
      max_tokens: 4,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(many.choices).toHaveLength(3);
    expect(many.choices[0]!.logprobs!.content![0]!.top_logprobs).toHaveLength(2);
  });

  it('speaks, transcribes and draws', async () => {
    const speech = await openai.audio.speech.create({
      model: CHAT,
      voice: 'alloy',
      input: 'Hello there',
      response_format: 'wav',
    });
    const wav = Buffer.from(await speech.arrayBuffer());
    expect(wav.subarray(0, 4).toString('latin1')).toBe('RIFF');
    const transcript = await openai.audio.transcriptions.create({
      model: CHAT,
      file: await toFile(wav, 'hello.wav', { type: 'audio/wav' }),
    });
    expect(transcript.text.length).toBeGreaterThan(0);
    const image = await openai.images.generate({ model: CHAT, prompt: 'a red disc', size: '64x64' });
    const png = Buffer.from(image.data![0]!.b64_json!, 'base64');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it("answers a route the model's engines do not serve with a 404 naming both", async () => {
    const error = await openai.embeddings.create({ model: CHAT, input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(notFound.code).toBe('route_not_served');
    expect(notFound.message).toContain(CHAT);
    expect(notFound.message).toContain('POST /v1/embeddings');
  });
});

describe('the @anthropic-ai/sdk', () => {
  it('creates a message, streams one, and counts tokens', async () => {
    const message = await anthropic.messages.create({
      model: CHAT,
      max_tokens: 8,
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    expect(message.type).toBe('message');
    expect(message.content[0]!.type).toBe('text');
    const stream = anthropic.messages.stream({
      model: CHAT,
      max_tokens: 6,
      messages: [{ role: 'user', content: 'Stream to me' }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(text.length).toBeGreaterThan(0);
    const counted = await anthropic.messages.countTokens({
      model: CHAT,
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it('gets its own error shapes for a bad key, an unknown model and a route the model does not serve', async () => {
    const badKey = new Anthropic({ baseURL: system.gatewayUrl, apiKey: 'sk-wrong', maxRetries: 0 });
    const unauthorized = await badKey.messages
      .create({ model: CHAT, max_tokens: 4, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((unauthorized as InstanceType<typeof Anthropic.APIError>).type).toBe('authentication_error');
    const unknown = await anthropic.messages
      .create({ model: 'no-such-model', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as InstanceType<typeof Anthropic.APIError>).type).toBe('not_found_error');
    const unserved = await anthropic.messages
      .create({ model: EMBED, max_tokens: 4, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unserved).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unserved as InstanceType<typeof Anthropic.APIError>).message).toContain('POST /v1/messages');
  });
});

describe('realtime over a WebSocket', () => {
  it('transcribes a streamed utterance, holding a lease while the socket is open', async () => {
    const url = `${system.gatewayUrl.replace('http', 'ws')}/v1/realtime?model=${CHAT}`;
    // A browser's way: the key in a subprotocol, since a page cannot set headers.
    const socket = new WebSocket(url, ['realtime', `openai-insecure-api-key.${system.demoKey}`]);
    const events: Array<Record<string, unknown>> = [];
    socket.addEventListener('message', (message) => {
      events.push(JSON.parse(String(message.data)) as Record<string, unknown>);
    });
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
    });
    expect(socket.protocol).toBe('realtime');
    await waitFor('session.created', () => events.some((e) => e.type === 'session.created'));
    expect(await inflight(CHAT)).toBe(1);
    const audio = Buffer.alloc(16_000 * 2).toString('base64'); // 1 s of 16 kHz PCM16
    socket.send(JSON.stringify({ type: 'session.update', model: CHAT }));
    socket.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
    socket.send(JSON.stringify({ type: 'input_audio_buffer.append', audio }));
    socket.send(JSON.stringify({ type: 'input_audio_buffer.commit', final: true }));
    const done = await waitFor(
      'transcription.done',
      () => events.find((e) => e.type === 'transcription.done'),
      {
        timeoutMs: 15_000,
      },
    );
    expect(done!.text).toEqual(expect.any(String));
    socket.close(1000);
    await waitFor('the lease to come back', async () => (await inflight(CHAT)) === 0, { timeoutMs: 10_000 });
  }, 30_000);
});

describe('stored responses when the fleet changes', () => {
  it('stay on their engine when another joins, and get the clear 404 when theirs leaves', async () => {
    const first = await openai.responses
      .create({ model: CHAT, input: 'Remember me', max_output_tokens: 4 })
      .withResponse();
    const firstEngine = first.response.headers.get('x-switchyard-engine')!;

    second = await startSecondAgent();
    await waitFor('two engines serving the chat model', async () => (await engines(CHAT)).length === 2, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    for (let i = 0; i < 4; i++) {
      const again = await openai.responses.retrieve(first.data.id).withResponse();
      expect(again.response.headers.get('x-switchyard-engine')).toBe(firstEngine);
      const next = await openai.responses
        .create({
          model: CHAT,
          input: `More ${i}`,
          previous_response_id: first.data.id,
          max_output_tokens: 4,
        })
        .withResponse();
      expect(next.response.headers.get('x-switchyard-engine')).toBe(firstEngine);
    }

    // A response made on the new engine (fresh conversations spread over both).
    const onSecond = await waitFor(
      'a response created on the second engine',
      async () => {
        const made = await openai.responses
          .create({ model: CHAT, input: `Fresh ${crypto.randomUUID()}`, max_output_tokens: 2 })
          .withResponse();
        return made.response.headers.get('x-switchyard-engine') !== firstEngine ? made.data : null;
      },
      { timeoutMs: 20_000, intervalMs: 0 },
    );
    second.child.kill('SIGTERM');
    await second.exited;
    await waitFor('the second engine to leave the pool', async () => (await engines(CHAT)).length === 1, {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    const gone = await openai.responses.retrieve(onSecond!.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
    expect((gone as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('response_engine_gone');
    expect((gone as Error).message).toContain('no longer serves');
    // The first one is still where it was.
    expect((await openai.responses.retrieve(first.data.id)).id).toBe(first.data.id);
  }, 120_000);
});

async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${system.gatewayUrl}/admin/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  });
}

async function engines(
  model: string,
): Promise<Array<{ engineKey: string; inflight: number; available: boolean }>> {
  const res = await admin(`/pools/${encodeURIComponent(model)}`);
  if (res.status !== 200) return [];
  const pool = (await res.json()) as {
    engines: Array<{ engineKey: string; inflight: number; available: boolean }>;
  };
  return pool.engines.filter((engine) => engine.available);
}

async function inflight(model: string): Promise<number> {
  return (await engines(model)).reduce((total, engine) => total + engine.inflight, 0);
}

/** A second node agent with one simulated engine serving the chat model, registered like any node. */
async function startSecondAgent(): Promise<AgentProcess> {
  const res = await admin('/node-tokens', {
    method: 'POST',
    body: JSON.stringify({ name: 'second', models: [CHAT] }),
  });
  expect(res.status).toBe(201);
  const { token } = (await res.json()) as { token: string };
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-second-'));
  tempDirs.push(dir);
  const [agentPort, enginePort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = writeConfig(dir, {
    gateway: { url: system.gatewayUrl, nodeToken: token },
    node: {
      name: 'second',
      listen: { host: '127.0.0.1', port: agentPort },
      publicUrl: `http://127.0.0.1:${agentPort}`,
    },
    heartbeatIntervalMs: 1000,
    drainTimeoutMs: 1000,
    logDir: join(dir, 'logs'),
    stateFile: join(dir, 'state.json'),
    engines: [{ id: 'second-chat', kind: 'sim', model: CHAT, servedModelName: CHAT, port: enginePort }],
  });
  return runGpuNode(['start', '--config', config, '--metrics-listen', `127.0.0.1:${metricsPort}`]);
}
