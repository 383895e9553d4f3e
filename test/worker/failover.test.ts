import { describe, expect, it, vi } from 'vitest';
import {
  call,
  chat,
  createApiKey,
  engine,
  fakeNodeLog,
  expectLeasesBack,
  poolSnapshot,
  registerNode,
  uniqueModel,
} from './helpers.ts';

describe('failover and broken streams', () => {
  it('retries on another engine when the first answers 5xx before any byte', async () => {
    const key = await createApiKey();
    const model = uniqueModel('failover');
    // The failing engine reports an empty queue, so least-loaded tries it first.
    await registerNode([engine('fail500', model, { load: { running: 0, waiting: 0, kvCacheUsage: 0 } })]);
    await registerNode([engine('ok', model, { load: { running: 7, waiting: 0, kvCacheUsage: 0 } })]);
    const res = await chat(key, { model }, { 'x-request-id': 'failover-1' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { system_fingerprint: string }).system_fingerprint).toBe('fake-ok');
    const tried = (await fakeNodeLog())
      .filter((r) => r.headers['x-request-id'] === 'failover-1')
      .map((r) => r.engine);
    expect(tried).toEqual(['fail500', 'ok']);
    await expectLeasesBack(model);
  });

  it('retries on another engine when the first cannot be reached', async () => {
    const key = await createApiKey();
    const model = uniqueModel('unreachable-then-ok');
    await registerNode(
      [engine('ok', model, { load: { running: 0, waiting: 0, kvCacheUsage: 0 } })],
      'http://127.0.0.1:9',
    );
    await registerNode([engine('ok', model, { load: { running: 7, waiting: 0, kvCacheUsage: 0 } })]);
    const res = await chat(key, { model });
    expect(res.status).toBe(200);
  });

  it("treats the node agent's own refusal as a failed attempt and tries another engine", async () => {
    const key = await createApiKey();
    const model = uniqueModel('agent-refusal');
    await registerNode([engine('agent401', model, { load: { running: 0, waiting: 0, kvCacheUsage: 0 } })]);
    await registerNode([engine('ok', model, { load: { running: 7, waiting: 0, kvCacheUsage: 0 } })]);
    const res = await chat(key, { model }, { 'x-request-id': 'agent-refusal-1' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { system_fingerprint: string }).system_fingerprint).toBe('fake-ok');
    const tried = (await fakeNodeLog())
      .filter((r) => r.headers['x-request-id'] === 'agent-refusal-1')
      .map((r) => r.engine);
    expect(tried).toEqual(['agent401', 'ok']);
    await expectLeasesBack(model);
  });

  it("never passes the node agent's refusal to the client as if the engine had said it", async () => {
    const key = await createApiKey();
    const unknownEngine = uniqueModel('agent-404');
    await registerNode([engine('agent404', unknownEngine)]);
    const refused = await chat(key, { model: unknownEngine });
    expect(refused.status).toBe(502);
    expect(refused.headers.get('x-switchyard-error-source')).toBe('gateway');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('node_refused');
    expect(body.error.message).toContain('No engine "agent404"');

    const draining = uniqueModel('agent-503');
    await registerNode([engine('agent503', draining)]);
    const unavailable = await chat(key, { model: draining });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('x-switchyard-error-source')).toBe('gateway');
    expect(unavailable.headers.get('retry-after')).toBe('5');
    expect(((await unavailable.json()) as { error: { code: string } }).error.code).toBe(
      'no_available_engine',
    );
  });

  it('passes an engine 4xx through verbatim without trying another engine', async () => {
    const key = await createApiKey();
    const model = uniqueModel('reject');
    await registerNode([engine('reject400', model)]);
    await registerNode([engine('reject400', model)]);
    const res = await chat(key, { model, top_k: -7 }, { 'x-request-id': 'reject-1' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-switchyard-error-source')).toBe('upstream');
    expect(await res.json()).toEqual({
      object: 'error',
      message: 'top_k must be -1 or positive',
      type: 'BadRequestError',
      code: 400,
    });
    const tried = (await fakeNodeLog()).filter((r) => r.headers['x-request-id'] === 'reject-1');
    expect(tried).toHaveLength(1);
  });

  it('tries at most three engines', async () => {
    const key = await createApiKey();
    const model = uniqueModel('three');
    for (let i = 0; i < 4; i++) await registerNode([engine('fail500', model)]);
    const res = await chat(key, { model }, { 'x-request-id': 'three-tries' });
    expect(res.status).toBe(500);
    const tried = (await fakeNodeLog()).filter((r) => r.headers['x-request-id'] === 'three-tries');
    expect(tried).toHaveLength(3);
  });

  it('ends a stream that breaks after the first byte with an OpenAI-shaped error event', async () => {
    const key = await createApiKey();
    const model = uniqueModel('midstream');
    await registerNode([engine('midstream', model)]);
    const res = await chat(key, { model, stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events[0]).toContain('"content":"Hel"');
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, '')) as {
      error: { code: string; type: string };
    };
    expect(last.error.code).toBe('upstream_stream_interrupted');
    expect(text).not.toContain('[DONE]');
    await expectLeasesBack(model);
  });

  it('ends a stream whose engine goes quiet with an idle-timeout error event', async () => {
    const key = await createApiKey();
    const model = uniqueModel('stall');
    await registerNode([engine('stall', model)]);
    const res = await chat(key, { model, stream: true });
    const text = await res.text();
    expect(text).toContain('"content":"wait"');
    expect(text).toContain('"code":"upstream_idle_timeout"');
    await expectLeasesBack(model);
  });

  it('aborts the engine request and returns the lease when the client disconnects', async () => {
    const key = await createApiKey();
    const model = uniqueModel('abort');
    await registerNode([engine('slow', model)]);
    const res = await chat(key, { model, stream: true }, { 'x-request-id': 'abort-1' });
    const reader = res.body!.getReader();
    await reader.read();
    expect((await poolSnapshot(model))[0]!.inflight).toBe(1);
    await reader.cancel();
    expect(await afterAbort('abort-1', model)).toEqual({ engineSawCallerLeave: true, inflight: 0 });
  });

  it('aborts the engine request and returns the lease when the client leaves before the first byte', async () => {
    const key = await createApiKey();
    const model = uniqueModel('abort-early');
    await registerNode([engine('silent', model)]);
    const client = new AbortController();
    const pending = call('/v1/chat/completions', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'x-request-id': 'abort-early-1',
      },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      signal: client.signal,
    }).catch((e: unknown) => e);
    await vi.waitFor(async () => expect((await poolSnapshot(model))[0]!.inflight).toBe(1));
    client.abort();
    await pending;
    expect(await afterAbort('abort-early-1', model)).toEqual({ engineSawCallerLeave: true, inflight: 0 });
  });
});

/** Waits (up to 2 s) for the engine to see the gateway hang up and the pool to get its lease back. */
async function afterAbort(requestId: string, model: string) {
  const state = async () => ({
    engineSawCallerLeave:
      (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === requestId)?.callerGone === true,
    inflight: (await poolSnapshot(model))[0]!.inflight,
  });
  await vi
    .waitFor(async () => expect(await state()).toEqual({ engineSawCallerLeave: true, inflight: 0 }), {
      timeout: 2_000,
      interval: 50,
    })
    .catch(() => {});
  return state();
}
