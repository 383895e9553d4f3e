/**
 * Nodes are trusted only as far as their token says: what models, how much capacity, at what
 * URL; a node is its credential, never its name; and the gateway follows no node's redirect.
 */
import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  adminJson,
  call,
  chat,
  createApiKey,
  engine,
  fakeNodeUrl,
  heartbeat,
  uniqueModel,
} from './helpers.ts';

async function scopedToken(scope: Record<string, unknown>): Promise<string> {
  const res = await adminJson('POST', '/admin/api/node-tokens', { name: 'scoped', ...scope });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

function register(token: string, body: Record<string, unknown>, path = '/nodes/register') {
  return call(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'n1', url: fakeNodeUrl(), ...body }),
  });
}

async function errorOf(res: Response): Promise<{ code: string; message: string; param: string | null }> {
  return ((await res.json()) as { error: { code: string; message: string; param: string | null } }).error;
}

describe('node trust', () => {
  it('refuses a registration that claims a model its token does not allow, saying which', async () => {
    const token = await scopedToken({ models: ['team-a-*'] });
    const model = uniqueModel('someone-elses');
    for (const path of ['/nodes/register', '/nodes/register/dry-run']) {
      const res = await register(token, { engines: [engine('ok', model)] }, path);
      expect(res.status, path).toBe(403);
      const error = await errorOf(res);
      expect(error.code).toBe('node_scope_exceeded');
      expect(error.message).toContain(model);
    }
    const nodes = await (await call('/admin/api/nodes', { headers: ADMIN })).text();
    expect(nodes).not.toContain(model);
    const allowed = await register(token, { engines: [engine('ok', uniqueModel('team-a-chat'))] });
    expect(allowed.status).toBe(201);
  });

  it('refuses a capacity above the token cap, in a registration and in a later heartbeat', async () => {
    const token = await scopedToken({ models: ['*'], maxConcurrency: 16 });
    const model = uniqueModel('capped');
    const greedy = await register(token, { engines: [engine('ok', model, { maxConcurrency: 1_000_000 })] });
    expect(greedy.status).toBe(403);
    expect((await errorOf(greedy)).message).toContain('1000000');
    const fair = await register(token, { engines: [engine('ok', model, { maxConcurrency: 16 })] });
    expect(fair.status).toBe(201);
    const node = (await fair.json()) as { nodeId: string; credential: string; heartbeatIntervalMs: number };
    const grown = await heartbeat(node, [engine('ok', model, { maxConcurrency: 17 })]);
    expect(grown.status).toBe(403);
    expect((await errorOf(grown)).code).toBe('node_scope_exceeded');
  });

  it('registers a second node under the same name as a new node, displacing nobody', async () => {
    const token = await scopedToken({ models: ['*'] });
    const model = uniqueModel('same-name');
    const first = (await (await register(token, { engines: [engine('ok', model)] })).json()) as {
      nodeId: string;
    };
    const second = (await (await register(token, { engines: [engine('ok-2', model)] })).json()) as {
      nodeId: string;
    };
    expect(second.nodeId).not.toBe(first.nodeId);
    const pool = (await (await call(`/admin/api/pools/${model}`, { headers: ADMIN })).json()) as {
      engines: Array<{ nodeId: string; available: boolean }>;
    };
    expect(pool.engines.map((e) => e.nodeId).sort()).toEqual([first.nodeId, second.nodeId].sort());
    expect(pool.engines.every((e) => e.available)).toBe(true);
  });

  it('refuses a node URL that carries credentials', async () => {
    const token = await scopedToken({ models: ['*'] });
    const res = await register(token, { url: 'http://user:secret@127.0.0.1:9', engines: [] });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect([error.param, error.code]).toEqual(['url', 'node_url_not_allowed']);
  });

  it('never follows a redirect from a node', async () => {
    const key = await createApiKey();
    const token = await scopedToken({ models: ['*'] });
    const model = uniqueModel('redirector');
    expect((await register(token, { engines: [engine('redirect', model)] })).status).toBe(201);
    const res = await chat(key, { model });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).toContain('upstream_redirect');
    expect(text).not.toContain('bodySha256'); // the fake node's log, had the redirect been followed
  });

  it("passes only the engine headers clients use, never a node's cookies or policies", async () => {
    const key = await createApiKey();
    const token = await scopedToken({ models: ['*'] });
    const model = uniqueModel('cookie-jar');
    expect((await register(token, { engines: [engine('cookies', model)] })).status).toBe(201);
    const res = await chat(key, { model });
    expect(res.status).toBe(200);
    // (CORS headers, if any, are the gateway's own: not checked here.)
    for (const name of ['set-cookie', 'strict-transport-security', 'x-powered-by']) {
      expect(res.headers.get(name), name).toBeNull();
    }
    expect(res.headers.get('openai-processing-ms')).toBe('7');
    expect(res.headers.get('content-type')).toBe('application/json');
  });
});
