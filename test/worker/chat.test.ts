import { describe, expect, it } from 'vitest';
import {
  call,
  chat,
  createApiKey,
  engine,
  fakeNodeLog,
  expectLeasesBack,
  registerNode,
  uniqueModel,
} from './helpers.ts';

describe('chat completions through a node', () => {
  it('returns the engine JSON answer for a non-stream chat and returns the lease', async () => {
    const key = await createApiKey();
    const model = uniqueModel('chat');
    await registerNode([engine('ok', model)]);
    const res = await chat(key, { model });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; model: string };
    expect(body.choices[0]!.message.content).toBe('Hello, world');
    expect(body.model).toBe(model);
    await expectLeasesBack(model);
  });

  it('streams SSE chunk by chunk and ends with [DONE]', async () => {
    const key = await createApiKey();
    const model = uniqueModel('stream');
    await registerNode([engine('ok', model)]);
    const res = await chat(key, { model, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).toContain('"content":"Hello"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await expectLeasesBack(model);
  });

  it('passes unknown fields (vLLM extras) through to the engine byte for byte', async () => {
    const key = await createApiKey();
    const model = uniqueModel('extras');
    await registerNode([engine('ok', model)]);
    const extras = {
      top_k: 20,
      guided_json: { type: 'object' },
      structured_outputs: { regex: '[a-z]+' },
      chat_template_kwargs: { enable_thinking: false },
    };
    // Odd spacing and key order: a re-serialized body would not keep them.
    const sent = `{ "model":"${model}",  "messages":[{"role":"user","content":"hi"}], ${JSON.stringify(extras).slice(1, -1)} }`;
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'x-request-id': 'extras-1',
      },
      body: sent,
    });
    expect(res.status).toBe(200);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(sent));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
    const arrived = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === 'extras-1');
    expect(arrived?.bodySha256).toBe(hex);
    expect(arrived?.bodyBytes).toBe(new TextEncoder().encode(sent).byteLength);
  });

  it('presents the node credential to the node, never the client API key', async () => {
    const key = await createApiKey();
    const model = uniqueModel('cred');
    const node = await registerNode([engine('ok', model)]);
    await chat(key, { model }, { 'x-request-id': 'trace-abc-123' });
    const seen = (await fakeNodeLog()).filter((r) => r.headers['x-request-id'] === 'trace-abc-123');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${node.credential}`);
    expect(JSON.stringify(seen[0]!.headers)).not.toContain(key);
  });

  it('echoes a safe x-request-id and replaces an unsafe one', async () => {
    const key = await createApiKey();
    const model = uniqueModel('rid');
    await registerNode([engine('ok', model)]);
    const kept = await chat(key, { model }, { 'x-request-id': 'my-trace.1' });
    expect(kept.headers.get('x-request-id')).toBe('my-trace.1');
    const replaced = await chat(key, { model }, { 'x-request-id': 'bad id <script>' });
    expect(replaced.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  });
});
