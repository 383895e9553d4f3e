/**
 * The Responses API through the gateway: a response lives on the engine that made it, so every
 * call on its id, and every create that continues it, reaches that engine — or is refused with
 * the reason, never sent elsewhere. The fake node keeps responses per engine and answers 404
 * on any other, as a real engine would.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  call,
  createApiKey,
  createKeyRecord,
  engine,
  errorOf,
  fakeNodeLog,
  keyInflight,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

/** Nodes kept healthy (heartbeats) for the length of a test: the test config marks a silent one unhealthy after 1 s. */
const live: Array<() => Promise<void>> = [];
async function liveNode(engineId: string, model: string) {
  const { node, stop } = await registerLiveNode([engine(engineId, model)]);
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

const json = (key: string, body: unknown) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const as = (key: string, method = 'GET') => ({ method, headers: { authorization: `Bearer ${key}` } });

interface ResponseObject {
  id: string;
  object: string;
  engine: string;
  previous_response_id: string | null;
}

async function create(
  key: string,
  body: Record<string, unknown>,
): Promise<{ res: Response; body: ResponseObject }> {
  const res = await call('/v1/responses', json(key, { input: 'hi', ...body }));
  expect(res.status, await res.clone().text()).toBe(200);
  return { res, body: (await res.json()) as ResponseObject };
}

/** A model served by `count` engines (`ok-a`, `ok-b`, …), each on its own node. */
async function modelOnEngines(label: string, count: number) {
  const model = uniqueModel(label);
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await liveNode(`ok-${'abcdef'[i]}`, model));
  return { model, nodes };
}

describe('POST /v1/responses', () => {
  it('creates a response on an engine and remembers it: every call on its id reaches that engine', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-sticky', 3);
    const created = await create(key, { model });
    const engineKey = created.res.headers.get('x-switchyard-engine')!;
    const id = created.body.id;
    for (let i = 0; i < 6; i++) {
      const got = await call(`/v1/responses/${id}`, as(key));
      expect(got.status).toBe(200);
      expect(got.headers.get('x-switchyard-engine')).toBe(engineKey);
      expect(((await got.json()) as ResponseObject).id).toBe(id);
    }
    const items = await call(`/v1/responses/${id}/input_items?limit=5`, as(key));
    expect(items.status).toBe(200);
    expect(items.headers.get('x-switchyard-engine')).toBe(engineKey);
    const cancel = await call(`/v1/responses/${id}/cancel`, as(key, 'POST'));
    expect(cancel.status).toBe(400); // the engine's own answer: it was not a background response
    expect(cancel.headers.get('x-switchyard-error-source')).toBe('upstream');
    const log = (await fakeNodeLog()).filter((r) => r.path.startsWith(`/v1/responses/${id}`));
    expect(log.map((r) => `${r.method} ${r.path}`)).toEqual([
      ...Array(6).fill(`GET /v1/responses/${id}`),
      `GET /v1/responses/${id}/input_items?limit=5`,
      `POST /v1/responses/${id}/cancel`,
    ]);
    expect(new Set(log.map((r) => r.engine))).toEqual(new Set([created.body.engine]));
  });

  it('remembers a streamed response from its response.created event, before the client sees it', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-stream', 2);
    const res = await call('/v1/responses', json(key, { model, input: 'hi', stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = /"id":"(resp_[^"]+)"/.exec(first)![1]!;
    // Asked while the stream is still open: the id is already known.
    const got = await call(`/v1/responses/${id}`, as(key));
    expect(got.status).toBe(200);
    expect(got.headers.get('x-switchyard-engine')).toBe(res.headers.get('x-switchyard-engine'));
    await reader.cancel();
  });

  it('sends a continuation (previous_response_id) to the engine that stores the earlier turn', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-continue', 3);
    let previous = (await create(key, { model })).body;
    for (let turn = 0; turn < 5; turn++) {
      const next = await create(key, { model, previous_response_id: previous.id });
      expect(next.body.engine).toBe(previous.engine);
      expect(next.body.previous_response_id).toBe(previous.id);
      previous = next.body;
    }
  });

  it('keeps routing a stored response to its engine after more engines join the model', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-join', 1);
    const first = await create(key, { model });
    await liveNode('ok-b', model);
    await liveNode('ok-c', model);
    for (let i = 0; i < 5; i++) {
      const next = await create(key, { model, previous_response_id: first.body.id });
      expect(next.body.engine).toBe(first.body.engine);
      expect((await call(`/v1/responses/${first.body.id}`, as(key))).status).toBe(200);
    }
  });

  it('refuses with a clear 404 when the engine that stores the response is gone, and sends it nowhere else', async () => {
    const key = await createApiKey();
    const model = uniqueModel('resp-gone');
    const doomed = await liveNode('ok-a', model);
    const first = await create(key, { model });
    await liveNode('ok-b', model);
    const evicted = await call(`/admin/api/nodes/${doomed.nodeId}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer test-admin-token' },
    });
    expect(evicted.status).toBe(200);
    const before = (await fakeNodeLog()).length;

    const continued = await call(
      '/v1/responses',
      json(key, { model, input: 'more', previous_response_id: first.body.id }),
    );
    expect(continued.status).toBe(404);
    expect(continued.headers.get('x-switchyard-error-source')).toBe('gateway');
    const error = await errorOf(continued);
    expect(error.code).toBe('response_engine_gone');
    expect(error.param).toBe('previous_response_id');
    expect(error.message).toContain(first.body.id);
    expect(error.message).toMatch(/no longer serves/);

    const retrieved = await call(`/v1/responses/${first.body.id}`, as(key));
    expect(retrieved.status).toBe(404);
    expect((await errorOf(retrieved)).code).toBe('response_engine_gone');
    expect((await fakeNodeLog()).length).toBe(before);
  });

  it('forgets a response its engine deleted', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-delete', 2);
    const { body } = await create(key, { model });
    const deleted = await call(`/v1/responses/${body.id}`, as(key, 'DELETE'));
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ id: body.id, deleted: true });
    await vi.waitFor(async () => {
      const again = await call(`/v1/responses/${body.id}`, as(key));
      expect(again.status).toBe(404);
      expect((await errorOf(again)).code).toBe('response_not_found');
    });
  });

  it('does not remember a response created with store: false', async () => {
    const key = await createApiKey();
    const { model } = await modelOnEngines('resp-nostore', 1);
    const { body } = await create(key, { model, store: false });
    const got = await call(`/v1/responses/${body.id}`, as(key));
    expect(got.status).toBe(404);
    expect((await errorOf(got)).code).toBe('response_not_found');
  });

  it("answers another tenant's response id exactly as an unknown one", async () => {
    const owner = await createApiKey();
    const stranger = await createApiKey();
    const { model } = await modelOnEngines('resp-tenant', 1);
    const { body } = await create(owner, { model });
    const theirs = await call(`/v1/responses/${body.id}`, as(stranger));
    const unknown = await call('/v1/responses/resp_never_made', as(stranger));
    expect(theirs.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [a, b] = [await errorOf(theirs), await errorOf(unknown)];
    expect(a.code).toBe(b.code);
    expect(a.message.replace(body.id, 'ID')).toBe(b.message.replace('resp_never_made', 'ID'));
    const continued = await call('/v1/responses', json(stranger, { model, previous_response_id: body.id }));
    expect(continued.status).toBe(404);
    expect((await errorOf(continued)).code).toBe('previous_response_not_found');
  });

  it('authenticates before saying whether an id exists', async () => {
    expect((await call('/v1/responses/resp_x', { method: 'GET' })).status).toBe(401);
    expect((await call('/v1/responses/resp_x', as('sk-not-a-key'))).status).toBe(401);
  });

  it('refuses a continuation under another model, and settles what it reserved', async () => {
    const { id: keyId, key } = await createKeyRecord();
    const { model } = await modelOnEngines('resp-model', 1);
    const { body } = await create(key, { model });
    const other = await call(
      '/v1/responses',
      json(key, { model: `${model}-other`, previous_response_id: body.id }),
    );
    expect(other.status).toBe(400);
    expect(await errorOf(other)).toMatchObject({ code: 'previous_response_model_mismatch', param: 'model' });
    await vi.waitFor(async () => expect(await keyInflight(keyId)).toBe(0));
  });

  it('answers other methods with 405 and an allow header', async () => {
    const put = await call('/v1/responses/resp_x', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, DELETE');
    expect((await call('/v1/responses', { method: 'GET' })).headers.get('allow')).toBe('POST');
  });
});
