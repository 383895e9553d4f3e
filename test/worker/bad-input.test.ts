/**
 * Bad input costs little and is answered clearly: refusals read the rest of a body the client
 * is still sending, a client that stops sending is one log line, absurd nesting and model names
 * are refused before they cost anything.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listDurableObjectIds } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { ApiError } from '../../src/openai/errors.ts';
import { ModelRoutedSchema } from '../../src/openai/request-schemas.ts';
import type { AppEnv } from '../../workers/gateway/config.ts';
import { readJsonBody } from '../../workers/gateway/dispatch/read-json.ts';
import { requestId } from '../../workers/gateway/middleware/request-id.ts';
import { renderError } from '../../workers/gateway/render-error.ts';
import { call, createApiKey, createKeyRecord } from './helpers.ts';

const enc = new TextEncoder();

/** A body of `chunks` chunks that records how far it was read, and can break off midway. */
function trackedBody(chunks: number, breakAfter?: number) {
  const state = { pulled: 0, finished: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (breakAfter !== undefined && state.pulled === breakAfter) {
        return controller.error(new Error('connection reset by peer'));
      }
      if (state.pulled === chunks) {
        state.finished = true;
        return controller.close();
      }
      state.pulled++;
      controller.enqueue(enc.encode(state.pulled === 1 ? '{"model":"x","messages":[' : ' '.repeat(16_384)));
    },
  });
  return { stream, state };
}

describe('bad input', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads the rest of the body before refusing, so a client still uploading gets the answer', async () => {
    const { stream, state } = trackedBody(64);
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing_api_key');
    expect(state.finished).toBe(true);
  });

  it('turns a body that breaks off into 400 client_closed_request, logged as one line without a stack', async () => {
    const { stream } = trackedBody(64, 3);
    const request = new Request('https://gateway.test/v1/chat/completions', { method: 'POST', body: stream });
    const refused = await readJsonBody(request, ModelRoutedSchema, 1 << 20).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).code).toBe('client_closed_request');

    const warnings = vi.spyOn(console, 'warn');
    const errors = vi.spyOn(console, 'error');
    const app = new Hono<AppEnv>();
    app.use('*', requestId());
    app.post('/', () => {
      throw refused;
    });
    app.onError(renderError);
    const res = await app.request('/', { method: 'POST', headers: { 'x-request-id': 'cut-1' } });
    expect(res.status).toBe(400);
    expect(errors).not.toHaveBeenCalled();
    const lines = warnings.mock.calls.map((args) => args.join(' '));
    expect(lines).toEqual([expect.stringContaining('[cut-1]')]);
    expect(lines[0]).not.toContain('\n');
  });

  it('counts a body shorter than its content-length as the client stopping', async () => {
    const request = new Request('https://gateway.test/v1/embeddings', {
      method: 'POST',
      headers: { 'content-length': '500', 'content-type': 'application/json' },
      body: '{"model":"m","input":"x"}',
    });
    const refused = await readJsonBody(request, ModelRoutedSchema, 1 << 20).catch((e: unknown) => e);
    expect((refused as ApiError).code ?? refused).toBe('client_closed_request');
  });

  it('refuses JSON nested deeper than 128 levels before parsing it', async () => {
    const key = await createApiKey();
    const deep = `{"model":"m","messages":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: deep,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_json');
    expect(body.error.message).toContain('128');
  });

  it('refuses a model name over 256 characters in JSON and in a multipart upload', async () => {
    const key = await createApiKey();
    const long = 'm'.repeat(257);
    const json = await call('/v1/embeddings', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: long, input: 'x' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: { param: string } }).error.param).toBe('model');
    const boundary = 'b0undary';
    const form = `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${long}\r\n--${boundary}--\r\n`;
    const upload = await call('/v1/audio/transcriptions', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body: form,
    });
    expect(upload.status).toBe(400);
    expect(((await upload.json()) as { error: { param: string } }).error.param).toBe('model');
  });
});

describe('keys the gateway never made', () => {
  it('refuses a made-up key at the edge, with the body of a wrong secret, and creates no storage', async () => {
    const real = await createKeyRecord();
    const before = await listDurableObjectIds(env.API_KEY);
    const forged = Array.from({ length: 20 }, () => {
      const hex = (n: number) =>
        Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join(
          '',
        );
      return `sk-${hex(16)}.${hex(32)}`;
    });
    const bodies = new Set<string>();
    for (const key of forged) {
      const res = await call('/v1/models', { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(401);
      bodies.add(await res.text());
    }
    const wrongSecret = await call('/v1/models', {
      headers: { authorization: `Bearer ${real.key.split('.')[0]}.${'0'.repeat(64)}` },
    });
    expect(wrongSecret.status).toBe(401);
    bodies.add(await wrongSecret.text());
    expect(bodies.size).toBe(1);
    const after = await listDurableObjectIds(env.API_KEY);
    expect(after.length).toBe(before.length);
  });
});
