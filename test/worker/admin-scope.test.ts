/**
 * Tenant isolation in the admin API: a tenant admin key sees and changes its own tenant only.
 * Another tenant's objects answer 404, exactly as ids that do not exist (so ids cannot be
 * probed); the operator's routes answer 403; the audit log shows the tenant its own entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  adminJson,
  chat,
  createKeyRecord,
  createTenant,
  engine,
  errorOf,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

interface World {
  tenantA: string;
  tenantB: string;
  adminA: { id: string; key: string };
  keyA: { id: string; key: string };
  keyB: { id: string; key: string };
  model: string;
}

let world: World;
/** The node heartbeats throughout: the test config marks a silent node unhealthy after 1 s. */
let live: { stop: () => Promise<void> };

afterAll(() => live.stop());

beforeAll(async () => {
  const tenantA = await createTenant('tenant-a');
  const tenantB = await createTenant('tenant-b');
  const model = uniqueModel('scope');
  live = await registerLiveNode([engine('ok', model)]);
  world = {
    tenantA,
    tenantB,
    adminA: await createKeyRecord({ tenantId: tenantA, kind: 'admin' }),
    keyA: await createKeyRecord({ tenantId: tenantA }),
    keyB: await createKeyRecord({ tenantId: tenantB }),
    model,
  };
  // Some usage for both tenants.
  expect((await chat(world.keyA.key, { model })).status).toBe(200);
  expect((await chat(world.keyB.key, { model })).status).toBe(200);
});

const asA = () => ({ authorization: `Bearer ${world.adminA.key}` });

async function expectNotFound(res: Response, code: string): Promise<void> {
  expect(res.status, `${res.url}`).toBe(404);
  const error = await errorOf(res);
  expect(error.type).toBe('not_found_error');
  expect(error.code).toBe(code);
}

describe('a tenant admin key and another tenant', () => {
  it("answers 404 for the other tenant's tenant routes, the same as for a tenant that does not exist", async () => {
    for (const tenantId of [world.tenantB, 'tn_doesnotexist']) {
      await expectNotFound(
        await adminJson('GET', `/admin/api/tenants/${tenantId}`, undefined, asA()),
        'tenant_not_found',
      );
      await expectNotFound(
        await adminJson('PATCH', `/admin/api/tenants/${tenantId}`, { name: 'taken over' }, asA()),
        'tenant_not_found',
      );
      await expectNotFound(
        await adminJson('GET', `/admin/api/tenants/${tenantId}/keys`, undefined, asA()),
        'tenant_not_found',
      );
      await expectNotFound(
        await adminJson('POST', `/admin/api/tenants/${tenantId}/keys`, { name: 'planted' }, asA()),
        'tenant_not_found',
      );
    }
    const b = (await (await adminJson('GET', `/admin/api/tenants/${world.tenantB}`)).json()) as {
      name: string;
    };
    expect(b.name).toBe('tenant-b');
    const keysOfB = (await (await adminJson('GET', `/admin/api/tenants/${world.tenantB}/keys`)).json()) as {
      data: unknown[];
    };
    expect(keysOfB.data).toHaveLength(1);
  });

  it("answers 404 for the other tenant's key on read, change, rotate and revoke, and leaves it working", async () => {
    for (const keyId of [world.keyB.id, 'ffffffffffffffff']) {
      const path = `/admin/api/keys/${keyId}`;
      await expectNotFound(await adminJson('GET', path, undefined, asA()), 'key_not_found');
      await expectNotFound(await adminJson('PATCH', path, { limits: { rpm: 1 } }, asA()), 'key_not_found');
      await expectNotFound(await adminJson('POST', `${path}/rotate`, {}, asA()), 'key_not_found');
      await expectNotFound(await adminJson('DELETE', path, undefined, asA()), 'key_not_found');
    }
    const view = (await (await adminJson('GET', `/admin/api/keys/${world.keyB.id}`)).json()) as {
      status: string;
      limits: object;
    };
    expect(view).toMatchObject({ status: 'active', limits: {} });
    expect((await chat(world.keyB.key, { model: world.model })).status).toBe(200);
  });

  it("answers 404 for the other tenant's usage, by tenant or by key", async () => {
    await expectNotFound(
      await adminJson('GET', `/admin/api/usage?tenantId=${world.tenantB}`, undefined, asA()),
      'tenant_not_found',
    );
    await expectNotFound(
      await adminJson('GET', `/admin/api/usage?keyId=${world.keyB.id}`, undefined, asA()),
      'key_not_found',
    );
    await expectNotFound(
      await adminJson(
        'GET',
        `/admin/api/usage?tenantId=${world.tenantA}&keyId=${world.keyB.id}`,
        undefined,
        asA(),
      ),
      'key_not_found',
    );
  });

  it('answers 403 operator_only on the routes only the operator may use', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/admin/api/tenants', { name: 'new' }],
      ['DELETE', `/admin/api/tenants/${world.tenantB}`],
      ['DELETE', `/admin/api/tenants/${world.tenantA}`],
      ['POST', '/admin/api/node-tokens', { name: 'n', models: ['*'] }],
      ['GET', '/admin/api/node-tokens'],
      ['DELETE', '/admin/api/node-tokens/abcdefabcdef'],
      ['GET', '/admin/api/nodes'],
      ['DELETE', '/admin/api/nodes/abcdefabcdef'],
      ['GET', `/admin/api/pools/${world.model}`],
    ];
    for (const [method, path, body] of routes) {
      const res = await adminJson(method, path, body, asA());
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(await errorOf(res)).toMatchObject({ type: 'permission_error', code: 'operator_only' });
    }
    // Nothing was done: both tenants still there.
    expect((await adminJson('GET', `/admin/api/tenants/${world.tenantA}`)).status).toBe(200);
    expect((await adminJson('GET', `/admin/api/tenants/${world.tenantB}`)).status).toBe(200);
  });

  it('lists only its own tenant and its usage', async () => {
    const tenants = (await (await adminJson('GET', '/admin/api/tenants', undefined, asA())).json()) as {
      data: Array<{ id: string }>;
    };
    expect(tenants.data.map((t) => t.id)).toEqual([world.tenantA]);
    const usage = await adminJson('GET', '/admin/api/usage', undefined, asA());
    expect(usage.status).toBe(200);
    const rows = ((await usage.json()) as { data: Array<{ tenantId: string; keyId: string }> }).data;
    for (const row of rows) expect(row.tenantId).toBe(world.tenantA);
    expect(rows.some((r) => r.keyId === world.keyB.id)).toBe(false);
  });
});

describe('a tenant admin key in its own tenant', () => {
  it('reads and renames its tenant, and manages its keys from creation to revocation', async () => {
    const tenant = await adminJson('GET', `/admin/api/tenants/${world.tenantA}`, undefined, asA());
    expect(tenant.status).toBe(200);
    const renamed = await adminJson(
      'PATCH',
      `/admin/api/tenants/${world.tenantA}`,
      { name: 'tenant-a2' },
      asA(),
    );
    expect(renamed.status).toBe(200);
    expect(((await renamed.json()) as { name: string }).name).toBe('tenant-a2');

    const created = await adminJson(
      'POST',
      `/admin/api/tenants/${world.tenantA}/keys`,
      { name: 'by-admin' },
      asA(),
    );
    expect(created.status).toBe(201);
    const { id, key } = (await created.json()) as { id: string; key: string };
    expect((await chat(key, { model: world.model })).status).toBe(200);
    const listed = (await (
      await adminJson('GET', `/admin/api/tenants/${world.tenantA}/keys`, undefined, asA())
    ).json()) as {
      data: Array<{ id: string }>;
    };
    expect(listed.data.map((k) => k.id)).toEqual(
      expect.arrayContaining([id, world.keyA.id, world.adminA.id]),
    );
    expect((await adminJson('GET', `/admin/api/keys/${id}`, undefined, asA())).status).toBe(200);
    expect((await adminJson('PATCH', `/admin/api/keys/${id}`, { name: 'renamed' }, asA())).status).toBe(200);
    const rotated = await adminJson('POST', `/admin/api/keys/${id}/rotate`, {}, asA());
    expect(rotated.status).toBe(200);
    const { key: newKey } = (await rotated.json()) as { key: string };
    expect((await chat(newKey, { model: world.model })).status).toBe(200);
    expect((await adminJson('DELETE', `/admin/api/keys/${id}`, undefined, asA())).status).toBe(200);
    expect((await chat(newKey, { model: world.model })).status).toBe(401);
    const usage = await adminJson('GET', `/admin/api/usage?tenantId=${world.tenantA}`, undefined, asA());
    expect(usage.status).toBe(200);
    const byKey = await adminJson('GET', `/admin/api/usage?keyId=${world.keyA.id}`, undefined, asA());
    expect(byKey.status).toBe(200);
  });

  it('shows in the audit log only its own tenant, each entry with its actor', async () => {
    // Something for tenant B in the log after A's entries, by the operator.
    expect((await adminJson('PATCH', `/admin/api/keys/${world.keyB.id}`, { name: 'b-renamed' })).status).toBe(
      200,
    );
    expect(
      (await adminJson('PATCH', `/admin/api/keys/${world.keyA.id}`, { name: 'a-renamed' }, asA())).status,
    ).toBe(200);
    const res = await adminJson('GET', '/admin/api/audit', undefined, asA());
    expect(res.status).toBe(200);
    const entries = (
      (await res.json()) as {
        data: Array<{ tenantId: string; actor: string; action: string; target: string }>;
      }
    ).data;
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry.tenantId).toBe(world.tenantA);
    expect(entries.some((e) => e.target === world.keyB.id)).toBe(false);
    expect(entries[0]).toMatchObject({
      action: 'key.update',
      target: world.keyA.id,
      actor: `key:${world.adminA.id}`,
    });
    // What the operator did for this tenant shows the operator as the actor.
    expect(entries).toContainEqual(expect.objectContaining({ action: 'tenant.create', actor: 'operator' }));
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'key.create', target: world.keyA.id, actor: 'operator' }),
    );

    const all = (await (await adminJson('GET', '/admin/api/audit?limit=1000')).json()) as {
      data: Array<{ tenantId: string | null; target: string; actor: string }>;
    };
    expect(all.data).toContainEqual(expect.objectContaining({ target: world.keyB.id, actor: 'operator' }));
  });

  it('stops working as an admin key once revoked', async () => {
    const admin = await createKeyRecord({ tenantId: world.tenantA, kind: 'admin' });
    const auth = { authorization: `Bearer ${admin.key}` };
    expect((await adminJson('GET', `/admin/api/tenants/${world.tenantA}`, undefined, auth)).status).toBe(200);
    expect((await adminJson('DELETE', `/admin/api/keys/${admin.id}`, undefined, ADMIN)).status).toBe(200);
    const refused = await adminJson('GET', `/admin/api/tenants/${world.tenantA}`, undefined, auth);
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).code).toBe('invalid_admin_token');
  });

  it('cannot open the admin API with an ordinary API key', async () => {
    const res = await adminJson('GET', `/admin/api/tenants/${world.tenantA}`, undefined, {
      authorization: `Bearer ${world.keyA.key}`,
    });
    expect(res.status).toBe(401);
  });
});
