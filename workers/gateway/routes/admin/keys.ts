/**
 * API keys of a tenant: create (the full key appears in that answer only), list, read, change,
 * rotate, revoke. Changes take effect on the key's next request: its own object holds them.
 */
import { Hono } from 'hono';
import { sha256Hex, randomToken, formatCredential } from '../../../../src/credentials.ts';
import { readJsonBody } from '../../dispatch/read-json.ts';
import type { AppEnv } from '../../config.ts';
import { apiKey, directory } from '../../../objects/stubs.ts';
import { CreateKeySchema, MAX_ADMIN_BODY_BYTES, PatchKeySchema, RotateKeySchema } from './schemas.ts';
import { audit, notFound, scopedKeyTenant, scopedTenant } from './scope.ts';

export const keyRoutes = new Hono<AppEnv>();

keyRoutes.post('/tenants/:tenantId/keys', async function createKey(c) {
  const tenantId = c.req.param('tenantId');
  await scopedTenant(c, tenantId);
  const { fields } = await readJsonBody(c.req.raw, CreateKeySchema, MAX_ADMIN_BODY_BYTES);
  const created = await directory(c.env).createKey(tenantId, fields);
  if (!created) throw notFound('tenant', tenantId);
  await audit(c, { tenantId, action: 'key.create', target: created.view.id, details: fields });
  return c.json({ ...created.view, key: created.key }, 201);
});

keyRoutes.get('/tenants/:tenantId/keys', async function listKeys(c) {
  const tenantId = c.req.param('tenantId');
  await scopedTenant(c, tenantId);
  const ids = await directory(c.env).keyIds(tenantId);
  const views = await Promise.all(ids.map((id) => apiKey(c.env, id).describe()));
  return c.json({ object: 'list', data: views.filter((view) => view !== null) });
});

keyRoutes.get('/keys/:keyId', async function showKey(c) {
  const keyId = c.req.param('keyId');
  await scopedKeyTenant(c, keyId);
  const view = await apiKey(c.env, keyId).describe();
  if (!view) throw notFound('key', keyId);
  return c.json(view);
});

keyRoutes.patch('/keys/:keyId', async function updateKey(c) {
  const keyId = c.req.param('keyId');
  const tenantId = await scopedKeyTenant(c, keyId);
  const { fields } = await readJsonBody(c.req.raw, PatchKeySchema, MAX_ADMIN_BODY_BYTES);
  const view = await apiKey(c.env, keyId).update(fields);
  await audit(c, { tenantId, action: 'key.update', target: keyId, details: fields });
  return c.json(view);
});

keyRoutes.post('/keys/:keyId/rotate', async function rotateKey(c) {
  const keyId = c.req.param('keyId');
  const tenantId = await scopedKeyTenant(c, keyId);
  const { fields } = await readJsonBody(c.req.raw, RotateKeySchema, MAX_ADMIN_BODY_BYTES);
  const secret = randomToken(32);
  const view = await apiKey(c.env, keyId).rotate(await sha256Hex(secret), fields.gracePeriodSeconds * 1000);
  await audit(c, { tenantId, action: 'key.rotate', target: keyId, details: fields });
  return c.json({ ...view, key: formatCredential('apiKey', keyId, secret) });
});

keyRoutes.delete('/keys/:keyId', async function revokeKey(c) {
  const keyId = c.req.param('keyId');
  const tenantId = await scopedKeyTenant(c, keyId);
  const view = await apiKey(c.env, keyId).revoke();
  await audit(c, { tenantId, action: 'key.revoke', target: keyId });
  return c.json(view);
});
