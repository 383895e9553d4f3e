/**
 * What `gpu-node check` and `gpu-node status` ask of the gateway: a dry-run registration
 * (token and body verified, nothing stored) and a node's own record read with its credential.
 */
import { describe, expect, it } from 'vitest';
import { parseCredential } from '../../src/credentials.ts';
import {
  DryRunResponseSchema,
  NodeStatusResponseSchema,
  type EngineReport,
} from '../../src/protocol/node-api.ts';
import {
  ADMIN,
  call,
  chat,
  createApiKey,
  createNodeToken,
  engine,
  expectLeasesBack,
  fakeNodeUrl,
  heartbeat,
  registerNode,
  uniqueModel,
} from './helpers.ts';

function nodeCall(path: string, token: string, body?: unknown): Promise<Response> {
  return call(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const registration = (name: string, engines: EngineReport[] = [engine('e1', uniqueModel('dry'))]) => ({
  name,
  url: fakeNodeUrl(),
  engines,
});

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('POST /nodes/register/dry-run', () => {
  it('accepts a valid token and body, and registers nothing', async () => {
    const token = await createNodeToken();
    const res = await nodeCall('/nodes/register/dry-run', token, registration('dry-only'));
    expect(res.status).toBe(200);
    expect(DryRunResponseSchema.parse(await res.json())).toEqual({
      ok: true,
      heartbeatIntervalMs: 1000,
      sameName: null,
    });
    const nodes = (await (await call('/admin/api/nodes', { headers: ADMIN })).json()) as {
      data: Array<{ name: string }>;
    };
    expect(nodes.data.map((node) => node.name)).not.toContain('dry-only');
  });

  it('refuses an unknown, a revoked and a malformed token with 401 invalid_node_token', async () => {
    const revoked = await createNodeToken();
    const revokedId = parseCredential(revoked)!.id;
    expect(
      (await call(`/admin/api/node-tokens/${revokedId}`, { method: 'DELETE', headers: ADMIN })).status,
    ).toBe(200);
    const unknown = `snt-${'a'.repeat(16)}.${'b'.repeat(48)}`;
    for (const token of [revoked, unknown, 'snt-replace-me']) {
      const res = await nodeCall('/nodes/register/dry-run', token, registration('refused'));
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('invalid_node_token');
    }
  });

  it('refuses a body the registration would refuse, naming the field', async () => {
    const res = await nodeCall('/nodes/register/dry-run', await createNodeToken(), {
      ...registration('bad-url'),
      url: 'not a url',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('url');
  });

  it('names the node already registered under the token with the same name', async () => {
    const token = await createNodeToken();
    const first = await nodeCall('/nodes/register', token, registration('twin'));
    expect(first.status).toBe(201);
    const { nodeId } = (await first.json()) as { nodeId: string };
    const res = await nodeCall('/nodes/register/dry-run', token, registration('twin'));
    expect(DryRunResponseSchema.parse(await res.json()).sameName).toMatchObject({
      nodeId,
      status: 'healthy',
    });
    const other = await nodeCall('/nodes/register/dry-run', token, registration('not-a-twin'));
    expect(DryRunResponseSchema.parse(await other.json()).sameName).toBeNull();
  });
});

describe('GET /nodes/self', () => {
  it("returns the node's own record without its credential, and which engines the pool routes to", async () => {
    const key = await createApiKey();
    const model = uniqueModel('self');
    const node = await registerNode([engine('up', model), engine('loading', model, { state: 'starting' })]);
    expect((await chat(key, { model })).status).toBe(200);
    await expectLeasesBack(model);
    const res = await nodeCall('/nodes/self', node.credential);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(node.credential);
    const status = NodeStatusResponseSchema.parse(JSON.parse(text));
    expect(status).toMatchObject({ nodeId: node.nodeId, status: 'healthy', draining: false });
    expect(status.engines.map(({ id, routable, inflight }) => ({ id, routable, inflight }))).toEqual([
      { id: 'up', routable: true, inflight: 0 },
      { id: 'loading', routable: false, inflight: 0 },
    ]);
    expect(JSON.parse(text)).not.toHaveProperty('tokenId');
  });

  it('follows heartbeats: an engine reported ready becomes routable', async () => {
    const model = uniqueModel('self-hb');
    const node = await registerNode([engine('e', model, { state: 'starting' })]);
    expect((await heartbeat(node, [engine('e', model)])).status).toBe(200);
    const status = NodeStatusResponseSchema.parse(
      await (await nodeCall('/nodes/self', node.credential)).json(),
    );
    expect(status.engines[0]).toMatchObject({ state: 'ready', routable: true });
  });

  it('answers 401 node_unknown to a wrong credential and refuses node tokens and API keys', async () => {
    const node = await registerNode([engine('e', uniqueModel('self-401'))]);
    const wrong = `${node.credential.slice(0, -4)}zzzz`;
    const unknown = await nodeCall('/nodes/self', wrong);
    expect(unknown.status).toBe(401);
    expect(await errorCode(unknown)).toBe('node_unknown');
    for (const token of [await createNodeToken(), await createApiKey()]) {
      const refused = await nodeCall('/nodes/self', token);
      expect(refused.status).toBe(401);
      expect(await errorCode(refused)).toBe('invalid_node_credential');
    }
  });
});
