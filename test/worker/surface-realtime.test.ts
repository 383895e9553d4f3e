/**
 * The realtime WebSocket through the gateway: the upgrade reaches an engine that serves it, the
 * messages pass both ways, the session holds a lease (and a concurrency slot of its key) for
 * its whole life, and a failure on either side closes the other cleanly.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineReport } from '../../src/protocol/node-api.ts';
import {
  call,
  createApiKey,
  createKeyRecord,
  engine,
  errorOf,
  fakeNodeLog,
  keyInflight,
  poolSnapshot,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

const live: Array<() => Promise<void>> = [];
async function servedBy(engines: Array<[string, Partial<EngineReport>?]>) {
  const model = uniqueModel('realtime');
  for (const [id, overrides] of engines) {
    const { stop } = await registerLiveNode([engine(id, model, overrides)]);
    live.push(stop);
  }
  return model;
}

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(async () => {
  await Promise.all(live.splice(0).map((stop) => stop()));
  vi.restoreAllMocks();
});

/** A client socket to the gateway, with every message it got and how it was closed. */
async function connect(model: string, headers: Record<string, string>) {
  const res = await call(`/v1/realtime?model=${encodeURIComponent(model)}`, {
    headers: { upgrade: 'websocket', ...headers },
  });
  if (res.status !== 101) throw new Error(`expected 101, got ${res.status}: ${await res.text()}`);
  const socket = res.webSocket!;
  const received: Array<Record<string, unknown>> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason })),
  );
  socket.addEventListener('message', (event) => {
    received.push(JSON.parse(String(event.data)));
  });
  socket.accept();
  return { res, socket, received, closed };
}

const total = async (model: string) => (await poolSnapshot(model)).reduce((n, e) => n + e.inflight, 0);

describe('GET /v1/realtime', () => {
  it('proxies the session both ways, holding a lease and a concurrency slot until it closes', async () => {
    const { id: keyId, key } = await createKeyRecord();
    const model = await servedBy([['ok-rt']]);
    const session = await connect(model, { authorization: `Bearer ${key}` });
    expect(session.res.headers.get('x-switchyard-engine')).toMatch(/\/ok-rt$/);
    await vi.waitFor(() =>
      expect(session.received[0]).toMatchObject({ type: 'session.created', engine: 'ok-rt' }),
    );
    session.socket.send(JSON.stringify({ type: 'session.update', model }));
    await vi.waitFor(() =>
      expect(session.received[1]).toMatchObject({ type: 'echo', data: { type: 'session.update' } }),
    );
    expect(await total(model)).toBe(1);
    expect(await keyInflight(keyId)).toBe(1);
    session.socket.send(JSON.stringify({ type: 'finish' }));
    await vi.waitFor(() => expect(session.received[2]).toMatchObject({ type: 'transcription.done' }));
    session.socket.close(1000, 'done');
    await vi.waitFor(async () => expect(await total(model)).toBe(0));
    await vi.waitFor(async () => expect(await keyInflight(keyId)).toBe(0));
  });

  it('takes the key from the subprotocol browsers use, and never passes that subprotocol on', async () => {
    const key = await createApiKey();
    const model = await servedBy([['ok-rt-browser']]);
    const session = await connect(model, {
      'sec-websocket-protocol': `realtime, openai-insecure-api-key.${key}`,
      'x-request-id': `rt-browser-${model}`,
    });
    expect(session.res.headers.get('sec-websocket-protocol')).toBe('realtime');
    const upgrade = (await fakeNodeLog()).find((r) => r.headers['x-request-id'] === `rt-browser-${model}`)!;
    expect(upgrade.path).toBe(`/v1/realtime?model=${encodeURIComponent(model)}`);
    expect(upgrade.headers['sec-websocket-protocol']).toBe('realtime');
    expect(JSON.stringify(upgrade.headers)).not.toContain(key);
    session.socket.close(1000);
    await vi.waitFor(async () => expect(await total(model)).toBe(0));
  });

  it('closes the client with 1011 when the engine side fails, and returns the lease', async () => {
    const key = await createApiKey();
    const model = await servedBy([['ws-drop']]);
    const session = await connect(model, { authorization: `Bearer ${key}` });
    session.socket.send(JSON.stringify({ type: 'session.update' }));
    const closed = await session.closed;
    expect(closed.code).toBe(1011);
    await vi.waitFor(async () => expect(await total(model)).toBe(0));
  });

  it('closes the engine side when the client goes, and returns the lease', async () => {
    const key = await createApiKey();
    const model = await servedBy([['ok-rt-gone']]);
    const session = await connect(model, { authorization: `Bearer ${key}` });
    expect(await total(model)).toBe(1);
    session.socket.close(1001, 'page closed');
    await vi.waitFor(async () => expect(await total(model)).toBe(0));
  });

  it('tries another engine when a node refuses the upgrade', async () => {
    const key = await createApiKey();
    const model = await servedBy([['agent503'], ['ok-rt-second']]);
    for (let i = 0; i < 3; i++) {
      const session = await connect(model, { authorization: `Bearer ${key}` });
      expect(session.res.headers.get('x-switchyard-engine')).toMatch(/\/ok-rt-second$/);
      session.socket.close(1000);
    }
    await vi.waitFor(async () => expect(await total(model)).toBe(0));
  });

  it('reaches only engines that serve it: a model without one gets a 404 naming the route', async () => {
    const key = await createApiKey();
    const model = await servedBy([['ok-rt-chat', { routes: ['POST /v1/chat/completions'] }]]);
    const res = await call(`/v1/realtime?model=${encodeURIComponent(model)}`, {
      headers: { upgrade: 'websocket', authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: 'route_not_served' });
  });

  it('refuses what is not a realtime session: no upgrade, no model, no key', async () => {
    const key = await createApiKey();
    const plain = await call('/v1/realtime?model=m', { headers: { authorization: `Bearer ${key}` } });
    expect(plain.status).toBe(426);
    const noModel = await call('/v1/realtime', {
      headers: { upgrade: 'websocket', authorization: `Bearer ${key}` },
    });
    expect(noModel.status).toBe(400);
    expect(await errorOf(noModel)).toMatchObject({ param: 'model', code: 'missing_required_parameter' });
    const noKey = await call('/v1/realtime?model=m', { headers: { upgrade: 'websocket' } });
    expect(noKey.status).toBe(401);
  });
});
