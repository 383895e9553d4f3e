import { describe, expect, it } from 'vitest';
import { ADMIN, call, createApiKey, engine, registerNode, uniqueModel } from './helpers.ts';

describe('the admin API and dashboard', () => {
  it('refuses every admin route without the admin token, and with an API key', async () => {
    const key = await createApiKey();
    for (const [method, path] of [
      ['POST', '/admin/api/keys'],
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
    const res = await call('/admin/api/keys', {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci', tenant: 'acme' }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string; tenant: string };
    expect(created.key).toMatch(new RegExp(`^sk-${created.id}\\.[0-9a-f]{48}$`));
    expect(created.tenant).toBe('acme');
    const models = await call('/v1/models', { headers: { authorization: `Bearer ${created.key}` } });
    expect(models.status).toBe(200);
  });

  it('rejects a key request without a name with 400 naming the field', async () => {
    const res = await call('/admin/api/keys', {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme' }),
    });
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

  it('serves the dashboard page, which reads nodes through the admin API', async () => {
    const res = await call('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).toContain("fetch('/admin/api/nodes'");
  });
});
