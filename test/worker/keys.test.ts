/**
 * An API key's life as the gateway enforces it on the very next request: revocation, rotation
 * (with and without a grace period), expiry, admin keys kept off /v1, and model allow-lists
 * (the key's own, else its tenant's defaults).
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '../../src/keys/key-record.ts';
import { apiKey } from '../../workers/objects/stubs.ts';
import {
  adminJson,
  call,
  chat,
  createKeyRecord,
  createTenant,
  engine,
  errorOf,
  fakeNodeLog,
  registerNode,
  uniqueModel,
} from './helpers.ts';

async function servedModel(label: string): Promise<string> {
  const model = uniqueModel(label);
  await registerNode([engine('ok', model)]);
  return model;
}

/** Changes a key's stored record in its own object, as if time had passed. */
async function editRecord(keyId: string, edit: (record: KeyRecord) => void): Promise<void> {
  await runInDurableObject(apiKey(env, keyId), (instance) => {
    const holder = instance as unknown as { record: KeyRecord; save(name: string, value: unknown): void };
    edit(holder.record);
    holder.save('record', holder.record);
  });
}

async function expectInvalidKey(res: Response, message?: RegExp): Promise<void> {
  expect(res.status).toBe(401);
  const error = await errorOf(res);
  expect(error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  if (message) expect(error.message).toMatch(message);
}

function listModels(key: string) {
  return call('/v1/models', { headers: { authorization: `Bearer ${key}` } });
}

describe('revocation, rotation and expiry', () => {
  it('refuses a revoked key on the very next request with 401 invalid_api_key', async () => {
    const model = await servedModel('revoke');
    const { id, key } = await createKeyRecord();
    expect((await chat(key, { model })).status).toBe(200);
    const revoked = await adminJson('DELETE', `/admin/api/keys/${id}`);
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { status: string }).status).toBe('revoked');
    await expectInvalidKey(await chat(key, { model }), /revoked/);
    await expectInvalidKey(await listModels(key), /revoked/);
  });

  it('revokes every key of a deleted tenant', async () => {
    const model = await servedModel('tenant-delete');
    const tenantId = await createTenant('doomed');
    const first = await createKeyRecord({ tenantId });
    const second = await createKeyRecord({ tenantId });
    expect((await chat(first.key, { model })).status).toBe(200);
    expect((await adminJson('DELETE', `/admin/api/tenants/${tenantId}`)).status).toBe(200);
    await expectInvalidKey(await chat(first.key, { model }));
    await expectInvalidKey(await chat(second.key, { model }));
    expect((await adminJson('GET', `/admin/api/tenants/${tenantId}`)).status).toBe(404);
  });

  it('answers an unknown key id and a wrong secret with the very same 401 body', async () => {
    const { key } = await createKeyRecord();
    const [prefix] = key.split('.');
    const wrongSecret = `${prefix}.${'0'.repeat(64)}`;
    const model = uniqueModel('whatever');
    const wrongBody = await (await chat(wrongSecret, { model })).text();
    const wrongListBody = await (await listModels(wrongSecret)).text();
    // Made-up ids: short, and well-formed but never issued.
    for (const id of ['ab12'.repeat(4), 'ab12'.repeat(8), prefix!.slice(3, 19) + '0'.repeat(16)]) {
      const unknown = `sk-${id}.${'0'.repeat(64)}`;
      const res = await chat(unknown, { model });
      expect(res.status, id).toBe(401);
      expect(await res.text(), id).toBe(wrongBody);
      const listed = await listModels(unknown);
      expect(listed.status, id).toBe(401);
      expect(await listed.text(), id).toBe(wrongListBody);
    }
    expect(JSON.parse(wrongBody)).toEqual({
      error: {
        message: expect.any(String),
        type: 'authentication_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
  });

  it('rotates with no grace: the new key works at once and the old one is dead at once', async () => {
    const model = await servedModel('rotate-now');
    const { id, key: oldKey } = await createKeyRecord();
    const res = await adminJson('POST', `/admin/api/keys/${id}/rotate`, {});
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as { id: string; key: string };
    expect(rotated.id).toBe(id);
    expect(rotated.key).not.toBe(oldKey);
    expect(rotated.key.startsWith(`sk-${id}.`)).toBe(true);
    expect((await chat(rotated.key, { model })).status).toBe(200);
    await expectInvalidKey(await chat(oldKey, { model }));
    await expectInvalidKey(await listModels(oldKey));
  });

  it('keeps the old key working through a grace period, and not after it', async () => {
    const model = await servedModel('rotate-grace');
    const { id, key: oldKey } = await createKeyRecord();
    const res = await adminJson('POST', `/admin/api/keys/${id}/rotate`, { gracePeriodSeconds: 3600 });
    const { key: newKey } = (await res.json()) as { key: string };
    expect((await chat(oldKey, { model })).status).toBe(200);
    expect((await chat(newKey, { model })).status).toBe(200);
    // The hour has passed.
    await editRecord(id, (record) => {
      record.previousValidUntil = Date.now() - 1;
    });
    await expectInvalidKey(await chat(oldKey, { model }));
    expect((await chat(newKey, { model })).status).toBe(200);
  });

  it('kills the grace of an earlier rotation when the key is rotated again without grace', async () => {
    const model = await servedModel('rotate-twice');
    const { id, key: first } = await createKeyRecord();
    const { key: second } = (await (
      await adminJson('POST', `/admin/api/keys/${id}/rotate`, { gracePeriodSeconds: 3600 })
    ).json()) as { key: string };
    const { key: third } = (await (await adminJson('POST', `/admin/api/keys/${id}/rotate`, {})).json()) as {
      key: string;
    };
    await expectInvalidKey(await chat(first, { model }));
    await expectInvalidKey(await chat(second, { model }));
    expect((await chat(third, { model })).status).toBe(200);
  });

  it('accepts a key until its expiry and refuses it after, on /v1 and in the admin view', async () => {
    const model = await servedModel('expiry');
    const { id, key } = await createKeyRecord({ expiresAt: Date.now() + 60_000 });
    expect((await chat(key, { model })).status).toBe(200);
    // The minute has passed.
    await editRecord(id, (record) => {
      record.expiresAt = Date.now() - 1;
    });
    await expectInvalidKey(await chat(key, { model }), /expired/);
    await expectInvalidKey(await listModels(key), /expired/);
    const view = (await (await adminJson('GET', `/admin/api/keys/${id}`)).json()) as { status: string };
    expect(view.status).toBe('expired');
  });

  it('takes an ISO 8601 expiresAt too', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const { id } = await createKeyRecord({ expiresAt: at.toISOString() });
    const view = (await (await adminJson('GET', `/admin/api/keys/${id}`)).json()) as { expiresAt: number };
    expect(view.expiresAt).toBe(at.getTime());
  });

  it('keeps a tenant admin key off /v1 with 401 invalid_api_key', async () => {
    const model = await servedModel('admin-on-v1');
    const { key } = await createKeyRecord({ kind: 'admin' });
    await expectInvalidKey(await chat(key, { model }, { 'x-request-id': `admin-on-v1-${model}` }));
    await expectInvalidKey(await listModels(key));
    const forwarded = (await fakeNodeLog()).filter(
      (r) => r.headers['x-request-id'] === `admin-on-v1-${model}`,
    );
    expect(forwarded).toEqual([]);
    // ...while it opens the admin API.
    expect(
      (await adminJson('GET', '/admin/api/tenants', undefined, { authorization: `Bearer ${key}` })).status,
    ).toBe(200);
  });
});

describe('model allow-lists', () => {
  it('lets a key with models ["<prefix>*"] call a matching model and refuses another with 403 naming it, forwarding nothing', async () => {
    const prefix = `${uniqueModel('a')}-`;
    const allowed = `${prefix}1`;
    const other = uniqueModel('b');
    await registerNode([engine('ok', allowed), engine('ok', other)]);
    const { key } = await createKeyRecord({ models: [`${prefix}*`] });
    expect((await chat(key, { model: allowed })).status).toBe(200);
    const res = await chat(key, { model: other }, { 'x-request-id': `not-allowed-${other}` });
    expect(res.status).toBe(403);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
    expect(error.message).toContain(other);
    const forwarded = (await fakeNodeLog()).filter(
      (r) => r.headers['x-request-id'] === `not-allowed-${other}`,
    );
    expect(forwarded).toEqual([]);
  });

  it('applies the tenant default models to a key that has none, and a key list of its own over them', async () => {
    const mine = uniqueModel('tenant-default');
    const theirs = uniqueModel('not-default');
    await registerNode([engine('ok', mine), engine('ok', theirs)]);
    const tenantId = await createTenant('defaults', { models: [mine] });
    const { key } = await createKeyRecord({ tenantId });
    expect((await chat(key, { model: mine })).status).toBe(200);
    expect((await chat(key, { model: theirs })).status).toBe(403);
    const { key: own } = await createKeyRecord({ tenantId, models: [theirs] });
    expect((await chat(own, { model: theirs })).status).toBe(200);
    expect((await chat(own, { model: mine })).status).toBe(403);
  });

  it('applies a tenant PATCH of its default models to existing keys on their next request', async () => {
    const first = uniqueModel('before-patch');
    const second = uniqueModel('after-patch');
    await registerNode([engine('ok', first), engine('ok', second)]);
    const tenantId = await createTenant('patched', { models: [first] });
    const { key } = await createKeyRecord({ tenantId });
    expect((await chat(key, { model: second })).status).toBe(403);
    const patched = await adminJson('PATCH', `/admin/api/tenants/${tenantId}`, {
      defaults: { models: [second] },
    });
    expect(patched.status).toBe(200);
    expect((await chat(key, { model: second })).status).toBe(200);
    expect((await chat(key, { model: first })).status).toBe(403);
  });

  it('applies a tenant PATCH of its default limits to existing keys on their next request', async () => {
    const model = await servedModel('limits-patch');
    const tenantId = await createTenant('limited');
    const { key } = await createKeyRecord({ tenantId });
    expect((await chat(key, { model })).status).toBe(200);
    const patched = await adminJson('PATCH', `/admin/api/tenants/${tenantId}`, {
      defaults: { limits: { rpm: 1 } },
    });
    expect(patched.status).toBe(200);
    // One request already counts in this minute.
    const res = await chat(key, { model });
    expect(res.status).toBe(429);
    expect((await errorOf(res)).param).toBe('rpm');
  });

  it('applies a key PATCH of its models on the next request', async () => {
    const a = uniqueModel('patch-a');
    const b = uniqueModel('patch-b');
    await registerNode([engine('ok', a), engine('ok', b)]);
    const { id, key } = await createKeyRecord({ models: [a] });
    expect((await chat(key, { model: b })).status).toBe(403);
    expect((await adminJson('PATCH', `/admin/api/keys/${id}`, { models: [b] })).status).toBe(200);
    expect((await chat(key, { model: b })).status).toBe(200);
    expect((await chat(key, { model: a })).status).toBe(403);
  });

  it('lists on GET /v1/models only the served models the key may use', async () => {
    const prefix = `${uniqueModel('listed')}-`;
    const yes1 = `${prefix}one`;
    const yes2 = `${prefix}two`;
    const no = uniqueModel('unlisted');
    await registerNode([engine('ok', yes1), engine('ok', yes2), engine('ok', no)]);
    const { key } = await createKeyRecord({ models: [`${prefix}*`] });
    const res = await listModels(key);
    expect(res.status).toBe(200);
    const ids = ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id).sort();
    expect(ids).toEqual([yes1, yes2].sort());
    expect((await call(`/v1/models/${no}`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      404,
    );
    expect((await call(`/v1/models/${yes1}`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      200,
    );

    const tenantId = await createTenant('listing', { models: [no] });
    const { key: byTenant } = await createKeyRecord({ tenantId });
    const fromTenant = (await (await listModels(byTenant)).json()) as { data: Array<{ id: string }> };
    expect(fromTenant.data.map((m) => m.id)).toEqual([no]);
  });
});
