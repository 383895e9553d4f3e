/**
 * What each engine serves, as its agent reports it: a pool sends a route only to engines that
 * serve it, a route none of a model's engines serves is a clear 404 naming both, an engine that
 * reports nothing is tried on everything (older agents), and /v1/models says what a model
 * offers in fields that leave OpenAI's schema intact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineReport } from '../../src/protocol/node-api.ts';
import {
  call,
  createApiKey,
  engine,
  errorOf,
  fakeNodeLog,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

const live: Array<() => Promise<void>> = [];
async function liveNode(engines: EngineReport[]) {
  const { node, stop } = await registerLiveNode(engines);
  live.push(stop);
  return node;
}

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(async () => {
  await Promise.all(live.splice(0).map((stop) => stop()));
  vi.restoreAllMocks();
});

const CHAT_ONLY = ['POST /v1/chat/completions', 'POST /v1/completions'] as EngineReport['routes'];
const WITH_MESSAGES = [
  ...CHAT_ONLY!,
  'POST /v1/messages',
  'POST /v1/messages/count_tokens',
] as EngineReport['routes'];

const post = (path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('engine capabilities', () => {
  it('sends /v1/messages only to the engines that serve it', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-mixed');
    await liveNode([engine('ok-chat-only', model, { routes: CHAT_ONLY })]);
    await liveNode([engine('ok-messages', model, { routes: WITH_MESSAGES })]);
    for (let i = 0; i < 6; i++) {
      const body = { model, max_tokens: 4, messages: [{ role: 'user', content: `m${i}` }] };
      const res = await post('/v1/messages', key, body, { 'x-request-id': `caps-mixed-${model}-${i}` });
      expect(res.status).toBe(200);
    }
    const engines = (await fakeNodeLog())
      .filter((r) => r.headers['x-request-id']?.startsWith(`caps-mixed-${model}`))
      .map((r) => r.engine);
    expect(engines).toEqual(Array(6).fill('ok-messages'));
  });

  it('answers a route none of the model engines serves with a 404 naming the model and the route', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-none');
    await liveNode([engine('ok-chat-only', model, { routes: CHAT_ONLY })]);
    const embeddings = await post('/v1/embeddings', key, { model, input: 'x' });
    expect(embeddings.status).toBe(404);
    const error = await errorOf(embeddings);
    expect(error).toMatchObject({ code: 'route_not_served', param: 'model', type: 'not_found_error' });
    expect(error.message).toContain(model);
    expect(error.message).toContain('POST /v1/embeddings');
    // The Messages family says the same in Anthropic's shape.
    const messages = await post('/v1/messages', key, { model, max_tokens: 4, messages: [] });
    expect(messages.status).toBe(404);
    const body = (await messages.json()) as { type: string; error: { type: string; message: string } };
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain('POST /v1/messages');
  });

  it('tries every route on an engine that reports no routes (an older agent)', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-unknown');
    await liveNode([engine('ok-legacy', model)]);
    expect((await post('/v1/embeddings', key, { model, input: 'x' })).status).toBe(200);
    expect((await post('/v1/messages', key, { model, max_tokens: 4, messages: [] })).status).toBe(200);
  });

  it('routes the newer OpenAI-table routes: Cohere /v2/embed and the chat batch', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-table');
    await liveNode([engine('ok-table', model)]);
    expect((await post('/v2/embed', key, { model, texts: ['a'] })).status).toBe(200);
    const batch = await post('/v1/chat/completions/batch', key, {
      model,
      messages: [[{ role: 'user', content: 'a' }], [{ role: 'user', content: 'b' }]],
    });
    expect(batch.status).toBe(200);
    const refused = await post('/v1/chat/completions/batch', key, { model, messages: [] });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).param).toMatch(/^messages/);
  });
});

describe('GET /v1/models', () => {
  it('carries owned_by, max_model_len and the routes the engines serve, beside the OpenAI fields', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-card');
    await liveNode([engine('ok-card-a', model, { routes: CHAT_ONLY, maxModelLen: 8192 })]);
    await liveNode([engine('ok-card-b', model, { routes: WITH_MESSAGES, maxModelLen: 4096 })]);
    const res = await call(`/v1/models/${encodeURIComponent(model)}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    const card = (await res.json()) as Record<string, unknown> & { capabilities: { routes: string[] } };
    expect(card).toMatchObject({ id: model, object: 'model', owned_by: 'operator', max_model_len: 4096 });
    expect(typeof card.created).toBe('number');
    expect(card.capabilities.routes.sort()).toEqual([...WITH_MESSAGES!].sort());
    const list = (await (
      await call('/v1/models', { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      data: Array<{ id: string }>;
    };
    expect(list.data.find((m) => m.id === model)).toEqual(card);
  });

  it('leaves max_model_len and capabilities out when an engine does not report them', async () => {
    const key = await createApiKey();
    const model = uniqueModel('caps-quiet');
    await liveNode([engine('ok-quiet-a', model, { routes: CHAT_ONLY, maxModelLen: 8192 })]);
    await liveNode([engine('ok-quiet-b', model)]);
    const res = await call(`/v1/models/${encodeURIComponent(model)}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const card = (await res.json()) as Record<string, unknown>;
    expect(card).not.toHaveProperty('max_model_len');
    expect(card).not.toHaveProperty('capabilities');
    expect(card.owned_by).toBe('operator');
  });
});
