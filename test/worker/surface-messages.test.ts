/**
 * Anthropic's Messages API through the gateway: the key as Anthropic's SDKs send it, and every
 * error the gateway itself says on /v1/messages* in Anthropic's shape, with Anthropic's types.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  call,
  createApiKey,
  createKeyRecord,
  engine,
  fakeNodeLog,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

const live: Array<() => Promise<void>> = [];
async function servedBy(engineId: string, label = 'messages') {
  const model = uniqueModel(label);
  const { stop } = await registerLiveNode([engine(engineId, model)]);
  live.push(stop);
  return model;
}

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(async () => {
  await Promise.all(live.splice(0).map((stop) => stop()));
  vi.restoreAllMocks();
});

const MESSAGE = { max_tokens: 16, messages: [{ role: 'user', content: 'Hello' }] };

function anthropic(path: string, headers: Record<string, string>, body: unknown) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface AnthropicError {
  type: string;
  error: { type: string; message: string };
}

/** Asserts the gateway's own Anthropic-shaped refusal, and returns its error. */
async function anthropicError(res: Response, status: number, type: string): Promise<AnthropicError['error']> {
  expect(res.status).toBe(status);
  expect(res.headers.get('x-switchyard-error-source')).toBe('gateway');
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as AnthropicError;
  expect(Object.keys(body).sort()).toEqual(['error', 'type']);
  expect(body.type).toBe('error');
  expect(Object.keys(body.error).sort()).toEqual(['message', 'type']);
  expect(body.error.type).toBe(type);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

describe('POST /v1/messages', () => {
  it('takes the key as x-api-key, passes anthropic-version on and never the key', async () => {
    const key = await createApiKey();
    const model = await servedBy('ok-msg');
    const res = await anthropic(
      '/v1/messages',
      { 'x-api-key': key, 'x-request-id': 'msg-xapikey' },
      { model, ...MESSAGE },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', id: 'msg_ok-msg' });
    const seen = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === 'msg-xapikey')!;
    expect(seen.path).toBe('/v1/messages');
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers.authorization).not.toContain(key);
  });

  it('takes the key as a bearer token too (Anthropic SDKs with an auth token)', async () => {
    const key = await createApiKey();
    const model = await servedBy('ok-msg');
    const res = await anthropic('/v1/messages', { authorization: `Bearer ${key}` }, { model, ...MESSAGE });
    expect(res.status).toBe(200);
  });

  it('answers a missing or bad key with authentication_error', async () => {
    const model = await servedBy('ok-msg');
    const missing = await anthropicError(
      await anthropic('/v1/messages', {}, { model, ...MESSAGE }),
      401,
      'authentication_error',
    );
    expect(missing.message).toContain('x-api-key');
    await anthropicError(
      await anthropic('/v1/messages', { 'x-api-key': 'sk-wrong' }, { model, ...MESSAGE }),
      401,
      'authentication_error',
    );
  });

  it('answers an unknown model with not_found_error, and a model the key may not use with permission_error', async () => {
    const key = await createApiKey({ models: ['only-this'] });
    const open = await createApiKey();
    await anthropicError(
      await anthropic('/v1/messages', { 'x-api-key': open }, { model: uniqueModel('nobody'), ...MESSAGE }),
      404,
      'not_found_error',
    );
    await anthropicError(
      await anthropic('/v1/messages', { 'x-api-key': key }, { model: 'not-this', ...MESSAGE }),
      403,
      'permission_error',
    );
  });

  it('answers bad input with invalid_request_error, and max_tokens is required as Anthropic requires it', async () => {
    const key = await createApiKey();
    const error = await anthropicError(
      await anthropic('/v1/messages', { 'x-api-key': key }, { model: 'm', messages: [] }),
      400,
      'invalid_request_error',
    );
    expect(error.message).toContain('max_tokens');
    await anthropicError(
      await anthropic('/v1/messages', { 'x-api-key': key }, '{"model":'),
      400,
      'invalid_request_error',
    );
  });

  it('answers a key over its limit with rate_limit_error and retry-after', async () => {
    const key = await createApiKey({ limits: { rpm: 1 } });
    const model = await servedBy('ok-msg');
    expect((await anthropic('/v1/messages', { 'x-api-key': key }, { model, ...MESSAGE })).status).toBe(200);
    const res = await anthropic('/v1/messages', { 'x-api-key': key }, { model, ...MESSAGE });
    await anthropicError(res, 429, 'rate_limit_error');
    expect(res.headers.get('retry-after')).toBeTruthy();
  });

  it('answers an unknown route and a wrong method under /v1/messages in Anthropic shape', async () => {
    await anthropicError(await call('/v1/messages/batches', { method: 'POST' }), 404, 'not_found_error');
    const res = await call('/v1/messages', { method: 'GET' });
    await anthropicError(res, 405, 'invalid_request_error');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('ends a stream the engine breaks off with an Anthropic error event', async () => {
    const key = await createApiKey();
    const model = await servedBy('midstream');
    const res = await anthropic('/v1/messages', { 'x-api-key': key }, { model, ...MESSAGE, stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    const last = text.trim().split('\n\n').at(-1)!;
    expect(last.split('\n')[0]).toBe('event: error');
    const data = JSON.parse(last.split('\n')[1]!.slice('data: '.length)) as AnthropicError;
    expect(data.type).toBe('error');
    expect(data.error.type).toBe('api_error');
  });

  it('passes an engine error through verbatim, marked as upstream', async () => {
    const key = await createApiKey();
    const model = await servedBy('reject400');
    const res = await anthropic('/v1/messages', { 'x-api-key': key }, { model, ...MESSAGE });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-switchyard-error-source')).toBe('upstream');
    expect(await res.json()).toMatchObject({ message: 'top_k must be -1 or positive' });
  });
});

describe('POST /v1/messages/count_tokens', () => {
  it('is forwarded to the engine and charges the key no tokens (a tpm of 10 admits every one)', async () => {
    const { key } = await createKeyRecord({ limits: { tpm: 10 } });
    const model = await servedBy('ok-count');
    for (let i = 0; i < 3; i++) {
      const res = await anthropic(
        '/v1/messages/count_tokens',
        { 'x-api-key': key },
        { model, messages: MESSAGE.messages },
      );
      expect(res.status).toBe(200);
    }
    const paths = (await fakeNodeLog()).filter((r) => r.engine === 'ok-count').map((r) => r.path);
    expect(paths).toEqual([
      '/v1/messages/count_tokens',
      '/v1/messages/count_tokens',
      '/v1/messages/count_tokens',
    ]);
  });
});
