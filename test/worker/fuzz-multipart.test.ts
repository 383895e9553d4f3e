/**
 * Property tests of the multipart upload routes (`/v1/audio/transcriptions`, `/translations`):
 * no boundary, the boundary inside the data, no model, the model after a big file, parts that
 * never end, absurd model names, any chunking. Bad forms get a 4xx from the gateway in OpenAI's
 * shape, never a 5xx or a hang; good ones reach the engine byte for byte.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
import { joinBytes } from '../support/bytes.ts';

const PATHS = ['/v1/audio/transcriptions', '/v1/audio/translations'] as const;
/** MAX_UPLOAD_BYTES in the worker tests' config. */
const MAX_UPLOAD = 1_048_576;
const BOUNDARY = 'fuzz-b0undary';
const enc = new TextEncoder();

let key: string;
let keyId: string;
let served: string;
let node: { ready: () => Promise<void>; stop: () => Promise<void> };
let sent = 0;

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  ({ key, id: keyId } = await createKeyRecord());
  served = uniqueModel('fuzz-whisper');
  node = await serveEngines([engine('ok-fuzz-mp', served)]);
});

afterAll(async () => {
  await node.stop();
  vi.restoreAllMocks();
});

type Part = { name: string; value: Uint8Array; filename?: string };

function form(parts: Part[], { boundary = BOUNDARY, closed = true } = {}): Uint8Array {
  const pieces: Uint8Array[] = [];
  for (const part of parts) {
    const filename = part.filename ? `; filename="${part.filename}"` : '';
    const type = part.filename ? 'Content-Type: audio/wav\r\n' : '';
    pieces.push(
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n${type}\r\n`,
      ),
      part.value,
      enc.encode('\r\n'),
    );
  }
  if (closed) pieces.push(enc.encode(`--${boundary}--\r\n`));
  return joinBytes(pieces);
}

/**
 * The body in chunks of the given sizes (cycled), as a network would deliver it — at most about
 * 2,000 of them, so a big body in one-byte chunks does not starve the test's other work.
 */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  const smallest = Math.ceil(bytes.byteLength / 2_000);
  let offset = 0;
  let turn = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      const size = Math.max(smallest, sizes[turn++ % sizes.length]!);
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

function upload(
  path: string,
  body: Uint8Array | ReadableStream<Uint8Array>,
  contentType = `multipart/form-data; boundary=${BOUNDARY}`,
) {
  return callAndRead(
    path,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': contentType,
        'x-request-id': `fuzz-mp-${++sent}`,
      },
      body,
    },
    20_000,
  );
}

const path = fc.constantFrom(...PATHS);
const chunkSizes = fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 });
/**
 * File bytes that hold boundary-like text, but never CRLF + "--" + the boundary itself, even with
 * the CRLF that ends the part's headers before them.
 */
const fileBytes = fc
  .tuple(
    fc.uint8Array({ maxLength: 2000 }),
    fc.constantFrom(
      `--${BOUNDARY}`,
      `\r\n--${BOUNDARY.slice(0, -1)}`,
      `--${BOUNDARY}--`,
      'Content-Disposition: form-data; name="file"\r\n\r\n',
      '\r\n\r\n',
      '',
    ),
    fc.integer({ min: 0, max: 200_000 }),
  )
  .map(([noise, trap, padding]) =>
    joinBytes([noise, enc.encode(trap), new Uint8Array(padding).fill(0x61), noise]),
  )
  .filter((bytes) => !`\r\n${latin1(bytes)}`.includes(`\r\n--${BOUNDARY}`));
const unknownModel = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .filter((name) => name.trim().length > 0 && !name.includes('\r\n--'))
  .map((name) => `no-such-${name}`);

describe('fuzzing the multipart upload routes', { timeout: 60_000 }, () => {
  it('refuses an upload without a usable boundary, or that is not multipart, with 415', async () => {
    const contentType = fc.constantFrom(
      'multipart/form-data',
      'multipart/form-data;',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary=""',
      'multipart/form-data; charset=utf-8',
      'multipart/mixed',
      'application/json',
      'application/octet-stream',
      'text/plain',
      'audio/wav',
    );
    await fc.assert(
      fc.asyncProperty(path, contentType, fileBytes, async (route, type, file) => {
        const body = form([
          { name: 'model', value: enc.encode(served) },
          { name: 'file', value: file, filename: 'a.wav' },
        ]);
        const res = await upload(route, body, type);
        assertGatewayRefusal(res, `${route} as ${type}`);
        expect(res.status).toBe(415);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a form without a model field with 400 param model, however it is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        fileBytes,
        fc.constantFrom('file', 'language', 'models', 'model_', 'Model ', 'mode'),
        chunkSizes,
        async (route, file, name, sizes) => {
          const body = form([
            { name: 'file', value: file, filename: 'model' },
            { name, value: enc.encode(served) },
          ]);
          const res = await upload(route, chunked(body, sizes));
          assertGatewayRefusal(res, `${route} with a ${name} field and no model`);
          expect(res.status).toBe(400);
          expect(JSON.parse(res.text).error.param).toBe('model');
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a model part that never ends (the body stops inside it) with 400', async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        fileBytes,
        fc.string({ unit: 'binary', maxLength: 200 }),
        chunkSizes,
        async (route, file, value, sizes) => {
          const head = form([{ name: 'file', value: file, filename: 'a.wav' }], { closed: false });
          const body = joinBytes([
            head,
            enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${value}`),
          ]);
          const res = await upload(route, chunked(body, sizes));
          assertGatewayRefusal(res, `${route} with an unterminated model part`);
          expect(res.status).toBe(400);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('finds the model before or after a big file, in any chunking, and refuses one nobody serves with 404', async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        fileBytes,
        unknownModel,
        fc.boolean(),
        chunkSizes,
        async (route, file, model, modelFirst, sizes) => {
          const parts: Part[] = [
            { name: 'file', value: file, filename: 'a.wav' },
            { name: 'response_format', value: enc.encode('json') },
          ];
          const modelPart = { name: 'model', value: enc.encode(model) };
          const body = form(modelFirst ? [modelPart, ...parts] : [...parts, modelPart]);
          const res = await upload(route, chunked(body, sizes));
          assertGatewayRefusal(
            res,
            `${route} ${body.byteLength} bytes, model ${modelFirst ? 'first' : 'last'}`,
          );
          expect(res.status).toBe(404);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses absurd model names: empty, blank, over 256 characters, up to 10 MB', async () => {
    const value = fc.oneof(
      fc.constantFrom('', ' ', '\t \t'),
      fc.integer({ min: 257, max: 200_000 }).map((n) => 'm'.repeat(n)),
      fc.string({ unit: 'grapheme', minLength: 257, maxLength: 300 }).filter((s) => s.trim().length > 256),
    );
    await fc.assert(
      fc.asyncProperty(path, value, chunkSizes, async (route, model, sizes) => {
        const body = form([
          { name: 'model', value: enc.encode(model) },
          { name: 'file', value: new Uint8Array(10), filename: 'a.wav' },
        ]);
        const res = await upload(route, chunked(body, sizes));
        assertGatewayRefusal(res, `${route} model of ${model.length} characters`);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.text).error.param).toBe('model');
      }),
      { numRuns: 30 },
    );
    const huge = form([{ name: 'model', value: new Uint8Array(10 * 1024 * 1024).fill(0x6d) }]);
    for (const route of PATHS) {
      const res = await upload(route, chunked(huge, [65_536]));
      assertGatewayRefusal(res, `${route} with a 10 MB model`);
      expect([400, 413]).toContain(res.status);
    }
  });

  it('refuses an upload over the cap with 413, declared or streamed, model first or last', async () => {
    await node.ready();
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.integer({ min: MAX_UPLOAD + 1, max: 3 * MAX_UPLOAD }),
        fc.boolean(),
        fc.boolean(),
        async (route, size, modelFirst, streamed) => {
          const file = { name: 'file', value: new Uint8Array(size), filename: 'big.wav' };
          const model = { name: 'model', value: enc.encode(served) };
          const body = form(modelFirst ? [model, file] : [file, model]);
          const res = await upload(route, streamed ? chunked(body, [65_536]) : body);
          assertGatewayRefusal(res, `${route} ${size} bytes`);
          expect(res.status).toBe(413);
        },
      ),
      { numRuns: 10 },
    );
  });

  it('relays a good upload to the engine byte for byte, boundary-like data and chunking notwithstanding', async () => {
    await node.ready();
    await fc.assert(
      fc.asyncProperty(path, fileBytes, fc.boolean(), chunkSizes, async (route, file, modelFirst, sizes) => {
        const model = { name: 'model', value: enc.encode(served) };
        const parts: Part[] = [{ name: 'file', value: file, filename: 'a.wav' }];
        const body = form(modelFirst ? [model, ...parts] : [...parts, model]);
        const id = `fuzz-mp-good-${++sent}`;
        const res = await callAndRead(route, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
            'x-request-id': id,
          },
          body: chunked(body, sizes),
        });
        expect(res.status).toBe(200);
        const seen = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === id);
        expect(seen?.bodyBytes).toBe(body.byteLength);
        expect(seen?.bodySha256).toBe(await sha256(body));
      }),
      { numRuns: 15 },
    );
  });

  it('reads the model an engine would read: none hidden in a file, and never two', async () => {
    const allowed = await createKeyRecord({ models: [served] });
    const post = (body: Uint8Array | ReadableStream<Uint8Array>) =>
      callAndRead(PATHS[0], {
        method: 'POST',
        headers: {
          authorization: `Bearer ${allowed.key}`,
          'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        },
        body,
      });
    // A model part's headers inside a file are the file's bytes: the real part names another
    // model, which this key may not use.
    const spoofedInFile = joinBytes([
      enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`),
      enc.encode(`RIFF Content-Disposition: form-data; name="model"\r\n\r\n${served}`),
      enc.encode(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nsecret-adapter`),
      enc.encode(`\r\n--${BOUNDARY}--\r\n`),
    ]);
    const spoofed = await post(spoofedInFile);
    assertGatewayRefusal(spoofed, 'a model part hidden in a file');
    expect(spoofed.status).toBe(403);
    expect(JSON.parse(spoofed.text).error.message).toContain('secret-adapter');

    await node.ready();
    const twice = (file: Uint8Array) =>
      form([
        { name: 'model', value: enc.encode(served) },
        { name: 'file', value: file, filename: 'a.wav' },
        { name: 'model', value: enc.encode('secret-adapter') },
      ]);
    // The second part within the bytes read to find the first, and far behind it, while the
    // upload already streams to the engine.
    for (const body of [twice(new Uint8Array(100)), twice(new Uint8Array(600_000))]) {
      const res = await post(chunked(body, [16_384]));
      assertGatewayRefusal(res, `two model parts, ${body.byteLength} bytes`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error).toMatchObject({ param: 'model', code: 'invalid_value' });
    }
  });

  it('refuses a second model part wherever it stands, however the upload is chunked', async () => {
    await node.ready();
    await fc.assert(
      fc.asyncProperty(path, fileBytes, fc.nat(), chunkSizes, async (route, file, at, sizes) => {
        const parts: Part[] = [
          { name: 'file', value: file, filename: 'a.wav' },
          { name: 'response_format', value: enc.encode('json') },
        ];
        // The first names the served model, so no earlier refusal (404, 403) can stand in for the 400.
        const first = at % 3;
        parts.splice(first, 0, { name: 'model', value: enc.encode(served) });
        parts.splice(first + 1 + ((at >> 2) % (3 - first)), 0, {
          name: 'model',
          value: enc.encode('secret-adapter'),
        });
        const res = await upload(route, chunked(form(parts), sizes));
        assertGatewayRefusal(res, `${route} with two model parts`);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.text).error.param).toBe('model');
      }),
      { numRuns: 30 },
    );
  });

  it('left no reservation or lease open', async () => {
    await vi.waitFor(async () => {
      expect(await keyInflight(keyId)).toBe(0);
      expect((await poolSnapshot(served)).every((e) => e.inflight === 0)).toBe(true);
    });
  });
});

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
