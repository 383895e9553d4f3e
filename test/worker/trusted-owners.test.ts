/**
 * A tenant restricted to node owners it trusts: its calls reach only those owners' engines,
 * whatever the pool's policy prefers, and it hears a clear 403 when no such engine serves the
 * model. Other tenants are not restricted.
 */
import { describe, expect, it } from 'vitest';
import type { RegisterResponse } from '../../src/protocol/node-api.ts';
import {
  adminJson,
  call,
  chat,
  createApiKey,
  createTenant,
  engine,
  errorOf,
  fakeNodeLog,
  fakeNodeUrl,
  uniqueModel,
} from './helpers.ts';

async function registerOwnedNode(owner: string, engineId: string, model: string): Promise<RegisterResponse> {
  const token = await adminJson('POST', '/admin/api/node-tokens', {
    name: `${owner}-node`,
    owner,
    models: ['*'],
  });
  const res = await call('/nodes/register', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${((await token.json()) as { token: string }).token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ name: `${owner}-node`, url: fakeNodeUrl(), engines: [engine(engineId, model)] }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as RegisterResponse;
}

/** The engines that answered the calls of this test's model, one per call. */
async function enginesThatServed(model: string): Promise<string[]> {
  return (await fakeNodeLog()).filter((r) => r.json?.model === model).map((r) => r.engine);
}

describe('tenants trusting only some node owners', () => {
  it('sends every call of a restricted tenant to its trusted owners only, and others anywhere', async () => {
    const model = uniqueModel('trusted');
    await registerOwnedNode('alice', 'ok-alice', model);
    await registerOwnedNode('mallory', 'ok-mallory', model);
    const trusting = await createApiKey({
      tenantId: await createTenant('careful', { trustedOwners: ['alice'] }),
    });
    const open = await createApiKey();

    // Different prompts: no cached prefix pulls the calls to one engine either way.
    const body = (i: number) => ({ model, messages: [{ role: 'user', content: `question ${i}` }] });
    for (let i = 0; i < 12; i++) expect((await chat(trusting, body(i))).status).toBe(200);
    expect(new Set(await enginesThatServed(model))).toEqual(new Set(['ok-alice']));

    for (let i = 0; i < 12; i++) expect((await chat(open, body(i))).status).toBe(200);
    expect(new Set(await enginesThatServed(model))).toEqual(new Set(['ok-alice', 'ok-mallory']));
  });

  it('answers 403 no_trusted_engine when only untrusted owners serve the model', async () => {
    const model = uniqueModel('untrusted');
    await registerOwnedNode('mallory', 'ok-mallory', model);
    const trusting = await createApiKey({
      tenantId: await createTenant('careful', { trustedOwners: ['alice'] }),
    });
    const res = await chat(trusting, { model, messages: [{ role: 'user', content: 'hello' }] });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toMatchObject({ code: 'no_trusted_engine', param: 'model' });
    expect(await enginesThatServed(model)).toEqual([]);
  });

  it('refuses a trustedOwners list that is empty or not names', async () => {
    for (const trustedOwners of [[], [''], 'alice', [42]]) {
      const res = await adminJson('POST', '/admin/api/tenants', { name: 'odd', defaults: { trustedOwners } });
      expect(res.status).toBe(400);
    }
  });
});
