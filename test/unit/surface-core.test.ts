/** The runtime-free pieces of the engine surface: Anthropic's errors, response ids, engine routes, realtime usage. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anthropicErrorBody,
  anthropicErrorEvent,
  anthropicErrorTypeForStatus,
  type AnthropicErrorType,
} from '../../src/anthropic/errors.ts';
import {
  isResponseId,
  responseIdInEvents,
  responseIdInJson,
  responseShard,
} from '../../src/openai/response-ids.ts';
import { EngineReportSchema } from '../../src/protocol/node-api.ts';
import { EngineRoutesSchema, engineRoute, servesRoute } from '../../src/protocol/engine-routes.ts';
import { RealtimeUsage } from '../../src/usage/realtime-usage.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe("Anthropic's error shape", () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [405, 'invalid_request_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'overloaded_error'],
    [504, 'api_error'],
    [529, 'overloaded_error'],
  ] satisfies Array<[number, AnthropicErrorType]>)('%i → %s', (status, type) => {
    expect(anthropicErrorTypeForStatus(status)).toBe(type);
  });

  it('is {"type":"error","error":{"type","message"}} and nothing else', () => {
    expect(anthropicErrorBody(401, 'no key')).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'no key' },
    });
  });

  it('is sent mid-stream as the `event: error` the SDKs raise on', () => {
    const text = new TextDecoder().decode(anthropicErrorEvent(502, 'cut'));
    expect(text).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"cut"}}\n\n',
    );
  });
});

describe('response ids in an answer', () => {
  it('reads the id of a JSON response object, and nothing from other objects', () => {
    expect(responseIdInJson(bytes('{"id":"resp_1","object":"response","status":"completed"}'))).toBe(
      'resp_1',
    );
    expect(responseIdInJson(bytes('{"id":"chatcmpl-1","object":"chat.completion"}'))).toBeNull();
    expect(responseIdInJson(bytes('{"id":"resp_1"'))).toBeNull();
    expect(responseIdInJson(bytes('{"id":"resp 1 with spaces","object":"response"}'))).toBeNull();
  });

  it('reads the id from the response.created event of a stream, with or without event lines', () => {
    const created = { type: 'response.created', response: { id: 'resp_abc', object: 'response' } };
    expect(responseIdInEvents(`event: response.created\ndata: ${JSON.stringify(created)}\n\n`)).toBe(
      'resp_abc',
    );
    expect(responseIdInEvents(`data: ${JSON.stringify(created)}\r\n\r\n`)).toBe('resp_abc');
    expect(responseIdInEvents('data: {"type":"response.output_text.delta","delta":"x"}\n\n')).toBeNull();
    expect(responseIdInEvents(': comment\n\ndata: [DONE]\n\n')).toBeNull();
  });

  it('spreads ids over the shards, the same id always on the same shard', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), (id) => {
        const shard = responseShard(id, 64);
        expect(shard).toBeGreaterThanOrEqual(0);
        expect(shard).toBeLessThan(64);
        expect(responseShard(id, 64)).toBe(shard);
      }),
    );
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 6400; i++)
      counts[responseShard(`resp_${crypto.randomUUID().replaceAll('-', '')}`, 64)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(160);
  });

  it('takes only ids shaped like what engines issue', () => {
    expect(isResponseId('resp_0123abcd')).toBe(true);
    expect(isResponseId('')).toBe(false);
    expect(isResponseId('a/b')).toBe(false);
    expect(isResponseId('x'.repeat(201))).toBe(false);
  });
});

describe('engine routes', () => {
  it('are "METHOD /path", with :params', () => {
    expect(engineRoute('GET', '/v1/responses/:id')).toBe('GET /v1/responses/:id');
    expect(EngineRoutesSchema.safeParse(['POST /v1/messages', 'GET /v1/realtime']).success).toBe(true);
    expect(EngineRoutesSchema.safeParse(['PATCH /v1/messages']).success).toBe(false);
    expect(EngineRoutesSchema.safeParse(['POST v1/messages']).success).toBe(false);
  });

  it('leave an engine that declares none serving every route', () => {
    expect(servesRoute(undefined, 'POST /v1/messages')).toBe(true);
    expect(servesRoute(['POST /v1/chat/completions'], 'POST /v1/messages')).toBe(false);
    expect(servesRoute(['POST /v1/messages'], 'POST /v1/messages')).toBe(true);
  });

  it('are optional in an engine report, so older agents and gateways understand each other', () => {
    const report = {
      id: 'e1',
      kind: 'vllm',
      model: 'm',
      state: 'ready',
      load: null,
      maxConcurrency: 8,
    };
    expect(EngineReportSchema.parse(report).routes).toBeUndefined();
    const withRoutes = EngineReportSchema.parse({
      ...report,
      routes: ['POST /v1/messages'],
      maxModelLen: 4096,
    });
    expect(withRoutes).toMatchObject({ routes: ['POST /v1/messages'], maxModelLen: 4096 });
  });
});

describe('realtime usage', () => {
  it('sums the usage of every event that carries one, and ignores the rest', () => {
    const usage = new RealtimeUsage();
    expect(usage.usage()).toBeNull();
    usage.observe('{"type":"session.created"}');
    usage.observe('not json "usage"');
    usage.observe(
      '{"type":"transcription.done","usage":{"prompt_tokens":4,"completion_tokens":6,"total_tokens":10}}',
    );
    usage.observe(
      '{"type":"transcription.done","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
    );
    expect(usage.usage()).toEqual({ promptTokens: 5, completionTokens: 8, cachedTokens: 0 });
  });
});
