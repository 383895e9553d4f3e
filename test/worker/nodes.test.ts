import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  call,
  chat,
  createApiKey,
  createNodeToken,
  engine,
  fakeNodeLog,
  heartbeat,
  registerNode,
  uniqueModel,
  backdateHeartbeat,
} from './helpers.ts';
import { modelPool, registry as registryOf } from '../../workers/objects/stubs.ts';

const registry = () => registryOf(env);

async function listedModels(key: string): Promise<string[]> {
  const res = await call('/v1/models', { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { object: string; data: Array<{ id: string; object: string }> };
  expect(body.object).toBe('list');
  return body.data.map((m) => m.id);
}

/** Lets the registry's alarm pass judgement now rather than waiting for it to fire. */
async function runRegistryAlarm(): Promise<void> {
  await runDurableObjectAlarm(registry());
}

describe('node registry and /v1/models', () => {
  it('lists only models with a ready engine on a healthy node', async () => {
    const key = await createApiKey();
    const ready = uniqueModel('ready');
    const starting = uniqueModel('starting');
    await registerNode([engine('ok', ready), engine('ok-2', starting, { state: 'starting' })]);
    const models = await listedModels(key);
    expect(models).toContain(ready);
    expect(models).not.toContain(starting);
  });

  it('follows engine state reported by heartbeats', async () => {
    const key = await createApiKey();
    const model = uniqueModel('hb');
    const node = await registerNode([engine('ok', model, { state: 'starting' })]);
    expect(await listedModels(key)).not.toContain(model);
    expect((await heartbeat(node, [engine('ok', model)])).status).toBe(200);
    expect(await listedModels(key)).toContain(model);
    expect((await chat(key, { model })).status).toBe(200);
  });

  it('marks a silent node unhealthy, then evicts it, by alarm', async () => {
    const key = await createApiKey();
    const model = uniqueModel('silent-node');
    const node = await registerNode([engine('ok', model)]);
    expect(await listedModels(key)).toContain(model);

    await backdateHeartbeat(node.nodeId, 10_100); // past NODE_UNHEALTHY_AFTER_MS (10 s) in the test config
    await runRegistryAlarm();
    expect(await listedModels(key)).not.toContain(model);
    const unhealthy = await chat(key, { model });
    expect(unhealthy.status).toBe(503);

    await backdateHeartbeat(node.nodeId, 20_000); // past NODE_EVICT_AFTER_MS (30 s)
    await runRegistryAlarm();
    const nodes = await registry().listNodes();
    expect(nodes.some((n) => n.engines.some((e) => e.model === model))).toBe(false);
    const evicted = await chat(key, { model });
    expect(evicted.status).toBe(404);
  });

  it('tells a forgotten node to register again', async () => {
    const model = uniqueModel('forgotten');
    const node = await registerNode([engine('ok', model)]);
    await call('/nodes/deregister', {
      method: 'POST',
      headers: { authorization: `Bearer ${node.credential}` },
    });
    const res = await heartbeat(node, [engine('ok', model)]);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('node_unknown');
  });

  it('stops routing to a draining node', async () => {
    const key = await createApiKey();
    const model = uniqueModel('drain');
    const node = await registerNode([engine('ok', model)]);
    const res = await call('/nodes/drain', {
      method: 'POST',
      headers: { authorization: `Bearer ${node.credential}` },
    });
    expect(res.status).toBe(200);
    expect((await chat(key, { model })).status).toBe(503);
    expect(await listedModels(key)).not.toContain(model);
  });
});

describe('the node API accepts only node credentials', () => {
  it('refuses an API key on every node route', async () => {
    const key = await createApiKey();
    for (const path of ['/nodes/register', '/nodes/heartbeat', '/nodes/drain', '/nodes/deregister']) {
      const res = await call(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x', url: 'http://127.0.0.1:1', engines: [] }),
      });
      expect(res.status, path).toBe(401);
    }
  });

  it('refuses a node credential for registration and a node token for heartbeats', async () => {
    const node = await registerNode([engine('ok', uniqueModel('creds'))]);
    const register = await call('/nodes/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${node.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', url: 'http://127.0.0.1:1', engines: [] }),
    });
    expect(register.status).toBe(401);
    const token = await createNodeToken();
    const beat = await call('/nodes/heartbeat', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ engines: [] }),
    });
    expect(beat.status).toBe(401);
  });

  it('rejects a malformed registration with 400 naming the field', async () => {
    const token = await createNodeToken();
    const res = await call('/nodes/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', url: 'not a url', engines: [] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('url');
  });
});

describe('node credentials', () => {
  /** Every text value in an object's SQLite tables. */
  async function storedText(stub: DurableObjectStub): Promise<string> {
    return runInDurableObject(stub, (_instance, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'",
        )
        .toArray();
      return tables
        .flatMap(({ name }) => state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray())
        .map((row) => JSON.stringify(row))
        .join('\n');
    });
  }

  it('stores no node credential: it is derived from the node id, and a forged one is refused', async () => {
    const model = uniqueModel('derived-credential');
    const node = await registerNode([engine('e1', model)]);
    const secretPart = node.credential.split('.')[1]!;
    expect(secretPart).toMatch(/^[0-9a-f]{64}$/);
    expect(await storedText(registryOf(env))).not.toContain(secretPart);
    expect(await storedText(modelPool(env, model))).not.toContain(secretPart);

    expect((await heartbeat(node, [engine('e1', model)])).status).toBe(200);
    const forged = { ...node, credential: `snc-${node.nodeId}.${'0'.repeat(64)}` };
    expect((await heartbeat(forged, [engine('e1', model)])).status).toBe(401);
    // The gateway signs its calls to the node with the same derived credential.
    const key = await createApiKey();
    expect((await chat(key, { model, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    const [seen] = (await fakeNodeLog()).filter((r) => r.json?.model === model);
    expect(seen?.headers.authorization).toBe(`Bearer ${node.credential}`);
  });
});
