/**
 * Admin changes that race a key's creation. The Directory awaits the new key's object before
 * indexing it, and Durable Objects let other calls in while they await, so a tenant PATCH or
 * DELETE can run in that gap. These tests drive the Directory's own methods (calls on one
 * stub arrive in order, so the interleaving is the same every run) and look at the result
 * through the gateway.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { directory } from '../../workers/objects/stubs.ts';
import { adminJson, call, createTenant, uniqueModel } from './helpers.ts';

const NEW_KEY = { name: 'racing', kind: 'api' as const, models: null, limits: {}, expiresAt: null };

describe('admin changes racing key creation', () => {
  it('gives every key, whenever it was created, the defaults of a tenant PATCH that has answered', async () => {
    const before = uniqueModel('defaults-before');
    const after = uniqueModel('defaults-after');
    const tenantId = await createTenant('racing-patch', { models: [before] });
    // Sequential calls see the PATCH: the key made after it has the new defaults.
    const dir = directory(env);
    await dir.updateTenant(tenantId, { defaults: { models: [after] } });
    const late = await dir.createKey(tenantId, NEW_KEY);
    expect(late!.view.effectiveModels).toEqual([after]);
  });

  it('does not leave a key created during a tenant PATCH with the old defaults', async () => {
    const before = uniqueModel('defaults-before');
    const after = uniqueModel('defaults-after');
    const tenantId = await createTenant('racing-patch', { models: [before] });
    const dir = directory(env);
    const creating = dir.createKey(tenantId, NEW_KEY);
    const patching = dir.updateTenant(tenantId, { defaults: { models: [after] } });
    const [created] = await Promise.all([creating, patching]);
    const view = (await (await adminJson('GET', `/admin/api/keys/${created!.view.id}`)).json()) as {
      effectiveModels: string[];
    };
    expect(view.effectiveModels).toEqual([after]);
  });

  it('leaves no working key behind a deleted tenant, even one created during the delete', async () => {
    const tenantId = await createTenant('racing-delete');
    const dir = directory(env);
    const creating = dir.createKey(tenantId, NEW_KEY);
    const deleting = dir.deleteTenant(tenantId);
    const [created, deleted] = await Promise.all([creating, deleting]);
    expect(deleted).toBe(true);
    if (created) {
      const res = await call('/v1/models', { headers: { authorization: `Bearer ${created.key}` } });
      expect(res.status).toBe(401);
      const view = (await (await adminJson('GET', `/admin/api/keys/${created.view.id}`)).json()) as {
        status: string;
      };
      expect(view.status).toBe('revoked');
    }
  });
});
