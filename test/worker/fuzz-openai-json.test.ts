/**
 * Property tests of the forwarded JSON routes with bad input: malformed, truncated, huge and
 * deeply nested bodies, wrong content types, absurd parameters, odd credentials. Whatever
 * arrives, the answer is a 4xx from the gateway in OpenAI's error shape — never a 5xx, never
 * a hang — nothing reaches an engine and no reservation is left open.
 */
import fc from 'fast-check';
import { listDurableObjectIds } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OPENAI_ROUTES } from '../../workers/gateway/routes/openai-routes.ts';
import {
  assertGatewayRefusal,
  callAndRead,
  createKeyRecord,
  engine,
  fakeNodeLog,
  keyInflight,
  poolSnapshot,
  serveEngines,
  uniqueModel,
} from './helpers.ts';

const JSON_PATHS = OPENAI_ROUTES.filter((route) => route.body === 'json').map((route) => route.path);
/** MAX_JSON_BODY_BYTES in the worker tests' config. */
const MAX_JSON = 65_536;
const REQUEST_ID_PREFIX = 'fuzz-json';

let key: string;
let keyId: string;
let served: string;
let stopNode: () => Promise<void>;
let sent = 0;

beforeAll(async () => {
  // One "forwarded" line per admitted call would bury the report.
  vi.spyOn(console, 'log').mockImplementation(() => {});
  ({ key, id: keyId } = await createKeyRecord());
  served = uniqueModel('fuzz-served');
  stopNode = (await serveEngines([engine('ok-fuzz', served)])).stop;
});

afterAll(async () => {
  await stopNode();
  vi.restoreAllMocks();
});

/** A body every JSON route accepts as is, for `model`. */
function validBody(model: string): Record<string, unknown> {
  return {
    model,
    messages: [{ role: 'user', content: 'hi' }],
    prompt: 'hi',
    input: 'hi',
    session_id: 1,
    max_tokens: 4,
  };
}

async function send(
  path: string,
  body: BodyInit | null,
  headers: Record<string, string> = {},
  method = 'POST',
) {
  const requestId = `${REQUEST_ID_PREFIX}-${++sent}`;
  return callAndRead(path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
      ...headers,
    },
    body,
  });
}

const route = fc.constantFrom(...JSON_PATHS);

/** Values no field expects: wrong types, out of range, control characters, astral and lone surrogates. */
const absurd = fc.oneof(
  fc.integer({ min: -1e9, max: 0 }),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -(2 ** 31), 0.5, -0.0001, 1e-300),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'NaN',
    'Infinity',
    '-1',
    '1e999',
    '\ud800',
    '\u202e\u0000x',
    '🦙'.repeat(300),
  ),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

const FIELDS = [
  'model',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'stream',
  'stream_options',
  'messages',
  'prompt',
  'input',
  'session_id',
  'user',
  'temperature',
  'top_k',
] as const;

/** A model nobody serves: then even a body the gateway accepts ends in 404, before any engine. */
const unknownModel = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 60 })
  .map((name) => `no-such-${name}`);

describe('fuzzing the forwarded JSON routes', { timeout: 60_000 }, () => {
  it('answers malformed JSON with a 4xx in OpenAI shape', async () => {
    await fc.assert(
      fc.asyncProperty(route, fc.string({ unit: 'binary', maxLength: 300 }), async (path, text) => {
        assertGatewayRefusal(await send(path, text), `${path} ${JSON.stringify(text)}`);
      }),
      { numRuns: 200 },
    );
  });

  it('answers a truncated body (or one shorter than its content-length) with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (path, cut, lie) => {
          const whole = JSON.stringify(validBody(served));
          const text = whole.slice(0, Math.floor(cut * (whole.length - 1)));
          const headers: Record<string, string> = lie ? { 'content-length': String(whole.length) } : {};
          const res = await send(path, text, headers);
          assertGatewayRefusal(
            res,
            `${path} cut at ${text.length}${lie ? ' with the whole length declared' : ''}`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses bodies nested past the limit, whatever the nesting is made of', async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.integer({ min: 129, max: 30_000 }),
        fc.constantFrom('[', '{"a":'),
        fc.constantFrom('messages', 'tools', 'response_format', 'x'),
        fc.boolean(),
        async (path, depth, open, field, closed) => {
          const close = open === '[' ? ']' : '}';
          const nested = open.repeat(depth) + (open === '[' ? '' : '1') + (closed ? close.repeat(depth) : '');
          const text = `{"model":${JSON.stringify(served)},"${field}":${nested}}`;
          const res = await send(path, text);
          assertGatewayRefusal(res, `${path} nested ${depth} deep in ${field}`);
          if (text.length <= MAX_JSON) expect(JSON.parse(res.text).error.code).toBe('invalid_json');
        },
      ),
      { numRuns: 80 },
    );
  });

  it('refuses a body over the cap with 413, declared or streamed', async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.integer({ min: MAX_JSON + 1, max: 4 * 1024 * 1024 }),
        fc.boolean(),
        async (path, size, streamed) => {
          const head = `{"model":${JSON.stringify(served)},"messages":[{"role":"user","content":"`;
          const tail = '"}]}';
          const text = head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail;
          const bytes = new TextEncoder().encode(text);
          // A stream has no content-length: the cap must hold while reading.
          const body = streamed ? chunked(bytes, 16_384) : text;
          const res = await send(path, body);
          assertGatewayRefusal(res, `${path} ${size} bytes ${streamed ? 'streamed' : 'declared'}`);
          expect(res.status).toBe(413);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('refuses a content type that is not JSON with 415, however valid the body', async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        'text/plain',
        'text/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/jsonx',
        'application/octet-stream',
        'image/png',
        'json',
        '*/*',
        'application/',
      ),
      fc
        .stringMatching(/^[a-z]{1,8}\/[a-z0-9.+-]{1,12}$/)
        .filter((type) => !/^application\/.*json/.test(type)),
    );
    await fc.assert(
      fc.asyncProperty(route, contentType, async (path, type) => {
        const res = await send(path, JSON.stringify(validBody(served)), { 'content-type': type });
        assertGatewayRefusal(res, `${path} as ${type}`);
        expect(res.status).toBe(415);
      }),
      { numRuns: 100 },
    );
  });

  it('answers absurd parameters with a 4xx and sends nothing to an engine', async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        unknownModel,
        fc.dictionary(fc.constantFrom(...FIELDS), absurd, { minKeys: 1, maxKeys: 4 }),
        async (path, model, overrides) => {
          const body = { ...validBody(model), ...overrides };
          const res = await send(path, JSON.stringify(body));
          assertGatewayRefusal(res, `${path} ${JSON.stringify(overrides).slice(0, 300)}`);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('refuses odd model names in a valid body: empty, NUL, lone surrogates, 257 characters to 10 MB', async () => {
    const model = fc.oneof(
      fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e', ' '.repeat(3)),
      fc.integer({ min: 257, max: 40_000 }).map((n) => 'm'.repeat(n)),
      fc.string({ unit: 'binary', minLength: 257, maxLength: 400 }),
    );
    const tenMegabytes = 'm'.repeat(10 * 1024 * 1024);
    for (const path of ['/v1/chat/completions', '/v1/embeddings']) {
      const res = await send(path, JSON.stringify(validBody(tenMegabytes)));
      assertGatewayRefusal(res, `${path} with a 10 MB model name`);
      expect(res.status).toBe(413);
    }
    await fc.assert(
      fc.asyncProperty(route, model, async (path, name) => {
        const res = await send(path, JSON.stringify(validBody(name)));
        assertGatewayRefusal(res, `${path} model of ${name.length} characters`);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses what is not an API key with 401, whatever the body', async () => {
    const authorization = fc.oneof(
      fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'bearer sk-',
        `Basic ${btoa('user:pass')}`,
        'Bearer snt-aaaaaaaa.bbbbbbbbbbbbbbbb',
        'Bearer snc-aaaaaaaa.bbbbbbbbbbbbbbbb',
        'Bearer test-admin-token',
      ),
      fc.stringMatching(/^Bearer [!-~]{1,200}$/).filter((auth) => !/^Bearer sk-/.test(auth)),
      fc.constant(`Bearer ${'k'.repeat(64 * 1024)}`),
    );
    const body = fc.oneof(
      fc.constant(JSON.stringify(validBody('anything'))),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(route, authorization, body, async (path, auth, text) => {
        const res = await send(path, text, { authorization: auth });
        assertGatewayRefusal(res, `${path} with ${JSON.stringify(auth.slice(0, 60))}`);
        expect(res.status).toBe(401);
      }),
      { numRuns: 120 },
    );
  });

  it('refuses a made-up API key with 401 when the body is valid', async () => {
    await fc.assert(
      fc.asyncProperty(route, fc.stringMatching(/^sk-[0-9a-f]{32}\.[0-9a-f]{64}$/), async (path, forged) => {
        const res = await send(path, JSON.stringify(validBody(served)), {
          authorization: `Bearer ${forged}`,
        });
        assertGatewayRefusal(res, `${path} with ${forged}`);
        expect(res.status).toBe(401);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a made-up API key with 401 before reading the body', async () => {
    const forged = `sk-${'ab'.repeat(16)}.${'cd'.repeat(32)}`;
    for (const body of ['', '{', '{"model":1}', `{"model":"m","messages":${'['.repeat(200)}`]) {
      const res = await send('/v1/chat/completions', body, { authorization: `Bearer ${forged}` });
      expect(res.status, body).toBe(401);
    }
  });

  it('answers other methods with 405 and allow: POST', async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        async (path, method) => {
          const res = await send(path, method === 'GET' ? null : '{}', {}, method);
          assertGatewayRefusal(res, `${method} ${path}`);
          expect(res.status).toBe(405);
          expect(res.headers.get('allow')).toBe('POST');
        },
      ),
      { numRuns: 30 },
    );
  });

  it('answers GET /v1/models/{id} for odd ids with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
          fc.integer({ min: 257, max: 100_000 }).map((n) => 'x'.repeat(n)),
        ),
        async (id) => {
          const res = await send(`/v1/models/${encodeURIComponent(id)}`, null, {}, 'GET');
          assertGatewayRefusal(res, `GET /v1/models/ ${id.length} characters`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sent nothing of all that to an engine, and left no reservation or lease open', async () => {
    const reached = (await fakeNodeLog()).filter((r) =>
      String(r.headers['x-request-id'] ?? '').startsWith(REQUEST_ID_PREFIX),
    );
    expect(reached).toEqual([]);
    // Settlements and releases go out through waitUntil, after the answer.
    await vi.waitFor(async () => {
      expect(await keyInflight(keyId)).toBe(0);
      expect((await poolSnapshot(served)).every((e) => e.inflight === 0)).toBe(true);
    });
  });

  it('creates no ModelPool object for a model nobody serves', async () => {
    const before = (await listDurableObjectIds(env.MODEL_POOL)).length;
    for (let i = 0; i < 5; i++) {
      const res = await send('/v1/chat/completions', JSON.stringify(validBody(uniqueModel('nobody'))));
      expect(res.status).toBe(404);
    }
    expect((await listDurableObjectIds(env.MODEL_POOL)).length).toBe(before);
  });
});

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}
