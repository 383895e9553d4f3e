/** Tenants: the operator creates and deletes them; a tenant admin sees and renames its own. */
import { Hono } from 'hono';
import { readJsonBody } from '../../dispatch/read-json.ts';
import type { AppEnv } from '../../config.ts';
import { operatorOnly } from '../../middleware/admin-auth.ts';
import { directory } from '../../../objects/stubs.ts';
import { CreateTenantSchema, MAX_ADMIN_BODY_BYTES, PatchTenantSchema } from './schemas.ts';
import { audit, notFound, scopedTenant } from './scope.ts';

export const tenantRoutes = new Hono<AppEnv>();

tenantRoutes.post('/tenants', operatorOnly(), async function createTenant(c) {
  const { fields } = await readJsonBody(c.req.raw, CreateTenantSchema, MAX_ADMIN_BODY_BYTES);
  const tenant = await directory(c.env).createTenant(fields);
  await audit(c, { tenantId: tenant.id, action: 'tenant.create', target: tenant.id, details: fields });
  return c.json(tenant, 201);
});

tenantRoutes.get('/tenants', async function listTenants(c) {
  const caller = c.get('admin');
  const all = await directory(c.env).listTenants();
  const data = caller.kind === 'operator' ? all : all.filter((t) => t.id === caller.tenantId);
  return c.json({ object: 'list', data });
});

tenantRoutes.get('/tenants/:tenantId', async function showTenant(c) {
  return c.json(await scopedTenant(c, c.req.param('tenantId')));
});

tenantRoutes.patch('/tenants/:tenantId', async function updateTenant(c) {
  const tenantId = c.req.param('tenantId');
  await scopedTenant(c, tenantId);
  const { fields } = await readJsonBody(c.req.raw, PatchTenantSchema, MAX_ADMIN_BODY_BYTES);
  const updated = await directory(c.env).updateTenant(tenantId, fields);
  if (!updated) throw notFound('tenant', tenantId);
  await audit(c, { tenantId, action: 'tenant.update', target: tenantId, details: fields });
  return c.json(updated);
});

tenantRoutes.delete('/tenants/:tenantId', operatorOnly(), async function deleteTenant(c) {
  const tenantId = c.req.param('tenantId');
  if (!(await directory(c.env).deleteTenant(tenantId))) throw notFound('tenant', tenantId);
  await audit(c, { tenantId, action: 'tenant.delete', target: tenantId });
  return c.json({ id: tenantId, object: 'tenant', deleted: true });
});
