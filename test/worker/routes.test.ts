import { describe, expect, it } from 'vitest';
import { OPENAI_ROUTES } from '../../workers/gateway/routes/openai-routes.ts';
import {
  call,
  createApiKey,
  engine,
  fakeNodeLog,
  registerLiveNode,
  registerNode,
  uniqueModel,
} from './helpers.ts';

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function multipart(fields: Array<[string, string | Uint8Array]>, boundary = 'sw-boundary-42'): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [name, value] of fields) {
    const filename = typeof value === 'string' ? '' : '; filename="audio.wav"';
    const type = typeof value === 'string' ? '' : 'Content-Type: audio/wav\r\n';
    parts.push(
      enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename}\r\n${type}\r\n`),
    );
    parts.push(typeof value === 'string' ? enc.encode(value) : value);
    parts.push(enc.encode('\r\n'));
  }
  parts.push(enc.encode(`--${boundary}--\r\n`));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** The body as a stream of small chunks, the way a large upload arrives. */
function chunked(bytes: Uint8Array, size = 4096): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

describe('the OpenAI surface', () => {
  it('forwards every JSON route to an engine of the named model, path intact', async () => {
    const key = await createApiKey();
    const model = uniqueModel('surface');
    // Two dozen routes outlast the test clock's 1 s of silence: the node keeps reporting.
    const live = await registerLiveNode([engine('ok', model)]);
    for (const route of OPENAI_ROUTES.filter((r) => r.body === 'json')) {
      const body = {
        model,
        messages: [{ role: 'user', content: 'x' }],
        prompt: 'x',
        input: 'x',
        session_id: 1,
      };
      const res = await call(route.path, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-request-id': `surface${route.path.replaceAll('/', '.')}`,
        },
        body: JSON.stringify(body),
      });
      expect(res.status, route.path).toBe(200);
    }
    const paths = (await fakeNodeLog())
      .filter((r) => r.headers['x-request-id']?.startsWith('surface'))
      .map((r) => r.path);
    expect(paths).toEqual(OPENAI_ROUTES.filter((r) => r.body === 'json').map((r) => r.path));
    await live.stop();
  });

  it('streams a multipart upload through unchanged, model field first', async () => {
    const key = await createApiKey();
    const model = uniqueModel('whisper');
    await registerNode([engine('ok', model)]);
    const audio = crypto.getRandomValues(new Uint8Array(300_000).subarray(0, 65_536));
    const big = new Uint8Array(300_000);
    for (let i = 0; i < big.length; i += audio.length)
      big.set(audio.subarray(0, Math.min(audio.length, big.length - i)), i);
    const body = multipart([
      ['model', model],
      ['response_format', 'json'],
      ['file', big],
    ]);
    const res = await call('/v1/audio/transcriptions', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'multipart/form-data; boundary=sw-boundary-42',
        'x-request-id': 'upload-1',
      },
      body: chunked(body),
    });
    expect(res.status).toBe(200);
    const seen = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === 'upload-1')!;
    expect(seen.path).toBe('/v1/audio/transcriptions');
    expect(seen.bodyBytes).toBe(body.byteLength);
    expect(seen.bodySha256).toBe(await sha256(body));
    expect(seen.headers['content-type']).toBe('multipart/form-data; boundary=sw-boundary-42');
  });

  it('finds the model field after the file part too', async () => {
    const key = await createApiKey();
    const model = uniqueModel('whisper-late');
    await registerNode([engine('ok', model)]);
    const body = multipart([
      ['file', new Uint8Array(50_000).fill(7)],
      ['model', model],
    ]);
    const res = await call('/v1/audio/translations', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'multipart/form-data; boundary=sw-boundary-42',
        'x-request-id': 'upload-2',
      },
      body: chunked(body, 1000),
    });
    expect(res.status).toBe(200);
    const seen = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === 'upload-2')!;
    expect(seen.bodySha256).toBe(await sha256(body));
  });

  it('refuses a multipart upload without a model (400), without a boundary (415), or over the cap (413)', async () => {
    const key = await createApiKey();
    const headers = {
      authorization: `Bearer ${key}`,
      'content-type': 'multipart/form-data; boundary=sw-boundary-42',
    };
    const noModel = await call('/v1/audio/transcriptions', {
      method: 'POST',
      headers,
      body: multipart([['file', new Uint8Array(10)]]),
    });
    expect(noModel.status).toBe(400);
    expect(((await noModel.json()) as { error: { param: string } }).error.param).toBe('model');
    const noBoundary = await call('/v1/audio/transcriptions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(noBoundary.status).toBe(415);
    const model = uniqueModel('too-big');
    await registerNode([engine('ok', model)]);
    const tooBig = multipart([
      ['model', model],
      ['file', new Uint8Array(1_100_000)],
    ]);
    const res = await call('/v1/audio/transcriptions', {
      method: 'POST',
      headers,
      body: chunked(tooBig, 65_536),
    });
    expect(res.status).toBe(413);
  });

  it('relays binary speech audio byte for byte', async () => {
    const key = await createApiKey();
    const model = uniqueModel('tts');
    await registerNode([engine('audio', model)]);
    const res = await call('/v1/audio/speech', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, input: 'Hello', voice: 'alloy' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(65_536);
    expect(bytes.every((b, i) => b === i % 256)).toBe(true);
  });

  it('keeps every turn of an LMDeploy interactive session on the same engine', async () => {
    const key = await createApiKey();
    const model = uniqueModel('interactive');
    for (let i = 0; i < 3; i++) await registerNode([engine(`ok-${i}`, model)]);
    const turn = (session: number, n: number) =>
      call('/v1/chat/interactive', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-request-id': `s${session}-t${n}`,
        },
        body: JSON.stringify({ model, prompt: `turn ${n}`, session_id: session, interactive_mode: true }),
      });
    for (let n = 0; n < 5; n++) {
      expect((await turn(7001, n)).status).toBe(200);
      expect((await turn(7002, n)).status).toBe(200);
    }
    const log = await fakeNodeLog();
    for (const session of [7001, 7002]) {
      const engines = new Set(
        log.filter((r) => r.headers['x-request-id']?.startsWith(`s${session}-`)).map((r) => r.engine),
      );
      expect(engines.size).toBe(1);
    }
  });
});
