import { describe, expect, it } from 'vitest';
import { call, chat, createApiKey, createNodeToken, engine, registerNode, uniqueModel } from './helpers.ts';

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

async function expectError(res: Response, status: number, code: string | null, param?: string | null) {
  expect(res.status).toBe(status);
  expect(res.headers.get('x-switchyard-error-source')).toBe('gateway');
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body.error;
}

const post = (path: string, key: string, body: string, contentType = 'application/json') =>
  call(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    body,
  });

describe('errors the gateway itself answers, OpenAI-shaped', () => {
  it('answers 401 when the API key is missing', async () => {
    const res = await call('/v1/chat/completions', { method: 'POST', body: '{}' });
    const error = await expectError(res, 401, 'missing_api_key');
    expect(error.type).toBe('authentication_error');
  });

  it('answers 401 for a wrong secret on a real key id', async () => {
    const key = await createApiKey();
    const forged = key.replace(/\.[^.]+$/, '.' + 'x'.repeat(48));
    await expectError(await chat(forged, { model: 'm' }), 401, 'invalid_api_key');
  });

  it('answers 401 for a malformed key', async () => {
    await expectError(await chat('not-a-key', { model: 'm' }), 401, 'invalid_api_key');
  });

  it('answers 400 for invalid JSON', async () => {
    const key = await createApiKey();
    await expectError(await post('/v1/chat/completions', key, '{"model": '), 400, 'invalid_json');
  });

  it('answers 400 naming the param when a used field is missing or wrong', async () => {
    const key = await createApiKey();
    const noModel = await post('/v1/chat/completions', key, JSON.stringify({ messages: [{ role: 'user' }] }));
    await expectError(noModel, 400, 'missing_required_parameter', 'model');
    const badStream = await chat(key, { model: 'm', stream: 'yes' });
    await expectError(badStream, 400, 'invalid_value', 'stream');
    const badTokens = await chat(key, { model: 'm', max_tokens: -5 });
    await expectError(badTokens, 400, 'invalid_value', 'max_tokens');
  });

  it('answers 404 model_not_found for a model no engine serves', async () => {
    const key = await createApiKey();
    const error = await expectError(
      await chat(key, { model: uniqueModel('nobody') }),
      404,
      'model_not_found',
      'model',
    );
    expect(error.type).toBe('not_found_error');
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    await expectError(await call('/v1/nothing-here'), 404, 'route_not_found');
    const res = await call('/v1/chat/completions', { method: 'GET' });
    await expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers 413 when the body is over the cap, declared or not', async () => {
    const key = await createApiKey();
    const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] });
    await expectError(await post('/v1/chat/completions', key, big), 413, 'request_too_large');
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: chunked,
    });
    await expectError(res, 413, 'request_too_large');
  });

  it('answers 415 for a body that is not JSON on a JSON route', async () => {
    const key = await createApiKey();
    await expectError(
      await post('/v1/chat/completions', key, 'model=m', 'application/x-www-form-urlencoded'),
      415,
      'unsupported_media_type',
    );
  });

  it('answers 503 with retry-after when the model has engines but none can take a request', async () => {
    const key = await createApiKey();
    const model = uniqueModel('starting');
    await registerNode([engine('ok', model, { state: 'starting' })]);
    const res = await chat(key, { model });
    await expectError(res, 503, 'no_available_engine');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('answers 429 with retry-after when every engine has its cap of requests in flight', async () => {
    const key = await createApiKey();
    const model = uniqueModel('saturated');
    await registerNode([engine('slow', model, { maxConcurrency: 1 })]);
    // ENGINE_OVERCOMMIT is 2: two requests in flight fill a one-slot engine.
    const held = [await chat(key, { model, stream: true }), await chat(key, { model, stream: true })];
    expect(held.map((r) => r.status)).toEqual([200, 200]);
    const res = await chat(key, { model, stream: true });
    const error = await expectError(res, 429, 'model_overloaded');
    expect(error.type).toBe('rate_limit_error');
    expect(res.headers.get('retry-after')).toBe('1');
    await Promise.all(held.map((r) => r.body!.cancel()));
  });

  it('answers 502 when no engine can be reached after retries', async () => {
    const key = await createApiKey();
    const model = uniqueModel('unreachable');
    await registerNode([engine('ok', model)], 'http://127.0.0.1:9');
    await expectError(await chat(key, { model }), 502, 'upstream_unreachable');
  });

  it('answers 504 when the engine sends nothing within the first-byte timeout', async () => {
    const key = await createApiKey();
    const model = uniqueModel('silent');
    await registerNode([engine('silent', model)]);
    await expectError(await chat(key, { model }), 504, 'upstream_timeout');
  });

  it('passes an engine error through verbatim, marked as upstream', async () => {
    const key = await createApiKey();
    const model = uniqueModel('fail');
    await registerNode([engine('fail500', model)]);
    const res = await chat(key, { model });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-switchyard-error-source')).toBe('upstream');
    expect(await res.json()).toEqual({
      error: { message: 'engine exploded', type: 'InternalServerError', code: 500 },
    });
  });

  it('refuses node tokens and node credentials on the OpenAI API', async () => {
    const token = await createNodeToken();
    await expectError(await chat(token, { model: 'm' }), 401, 'invalid_api_key');
    const node = await registerNode([engine('ok', uniqueModel('x'))]);
    await expectError(await chat(node.credential, { model: 'm' }), 401, 'invalid_api_key');
  });
});
