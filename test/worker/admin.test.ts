import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  adminJson,
  call,
  createApiKey,
  createTenant,
  engine,
  registerNode,
  uniqueModel,
} from './helpers.ts';

describe('the admin API', () => {
  it('refuses every admin route without the admin token, and with an API key', async () => {
    const key = await createApiKey();
    for (const [method, path] of [
      ['POST', '/admin/api/tenants'],
      ['GET', '/admin/api/usage'],
      ['POST', '/admin/api/node-tokens'],
      ['GET', '/admin/api/nodes'],
      ['GET', '/admin/api/pools/x'],
    ] as const) {
      const bare = await call(path, { method });
      expect(bare.status, path).toBe(401);
      const withKey = await call(path, { method, headers: { authorization: `Bearer ${key}` } });
      expect(withKey.status, path).toBe(401);
      expect(((await withKey.json()) as { error: { code: string } }).error.code).toBe('invalid_admin_token');
    }
  });

  it('creates a key that works at once and is shown only in the creation answer', async () => {
    const tenantId = await createTenant('acme');
    const res = await adminJson('POST', `/admin/api/tenants/${tenantId}/keys`, { name: 'ci' });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string; tenantId: string };
    expect(created.key).toMatch(new RegExp(`^sk-${created.id}\\.[0-9a-f]{64}$`));
    expect(created.tenantId).toBe(tenantId);
    const models = await call('/v1/models', { headers: { authorization: `Bearer ${created.key}` } });
    expect(models.status).toBe(200);
    const listed = await (await adminJson('GET', `/admin/api/tenants/${tenantId}/keys`)).text();
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(created.key.split('.')[1]);
  });

  it('rejects a key request without a name with 400 naming the field', async () => {
    const tenantId = await createTenant('acme');
    const res = await adminJson('POST', `/admin/api/tenants/${tenantId}/keys`, {});
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('name');
  });

  it('lists nodes with their engines but never their credentials', async () => {
    const model = uniqueModel('listed');
    const node = await registerNode([engine('ok', model)]);
    const res = await call('/admin/api/nodes', { headers: ADMIN });
    const text = await res.text();
    expect(text).toContain(model);
    expect(text).not.toContain(node.credential);
    const pool = await call(`/admin/api/pools/${model}`, { headers: ADMIN });
    const poolText = await pool.text();
    expect(poolText).toContain('"engineId":"ok"');
    expect(poolText).not.toContain(node.credential);
  });
});
