/** The routing policy per pool: the gateway's default, and the operator's setting through the admin API. */
import { env } from 'cloudflare:workers';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  adminJson,
  chat,
  createApiKey,
  createKeyRecord,
  engine,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

async function liveNode(engines: Parameters<typeof registerLiveNode>[0]) {
  const live = await registerLiveNode(engines);
  onTestFinished(() => live.stop());
  return live.node;
}

const policyPath = (model: string) => `/admin/api/pools/${encodeURIComponent(model)}/policy`;

describe('routing policy per pool', () => {
  it('defaults to ROUTING_POLICY (affinity) until the operator sets one, and back with null', async () => {
    const model = uniqueModel('policy');
    expect(env.ROUTING_POLICY).toBe('affinity');
    expect(await (await adminJson('GET', policyPath(model))).json()).toEqual({
      model,
      policy: 'affinity',
      setHere: false,
    });
    const set = await adminJson('PUT', policyPath(model), { policy: 'round-robin' });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ model, policy: 'round-robin', setHere: true });
    const reset = await adminJson('PUT', policyPath(model), { policy: null });
    expect(await reset.json()).toEqual({ model, policy: 'affinity', setHere: false });
  });

  it('refuses an unknown policy with a 400 naming the field, and a tenant admin with a 403', async () => {
    const model = uniqueModel('policy-bad');
    const bad = await adminJson('PUT', policyPath(model), { policy: 'fastest' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('policy');
    const { key } = await createKeyRecord({ kind: 'admin' });
    const tenantAdmin = await adminJson(
      'PUT',
      policyPath(model),
      { policy: 'random' },
      { authorization: `Bearer ${key}` },
    );
    expect(tenantAdmin.status).toBe(403);
  });

  it('routes by the pool’s policy from its next pick: round-robin ignores sessions and cycles', async () => {
    const key = await createApiKey();
    const model = uniqueModel('policy-rr');
    await liveNode([engine('ok-1', model), engine('ok-2', model), engine('ok-3', model)]);
    expect((await adminJson('PUT', policyPath(model), { policy: 'round-robin' })).status).toBe(200);
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await chat(key, { model }, { 'x-session-id': 'same-session' });
      await res.arrayBuffer();
      served.push(res.headers.get('x-switchyard-engine')!);
    }
    expect(new Set(served.slice(0, 3)).size).toBe(3);
    expect(served.slice(3)).toEqual(served.slice(0, 3));
  });
});
