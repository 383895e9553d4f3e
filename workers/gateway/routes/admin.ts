/**
 * The operator's API, behind ADMIN_TOKEN: create API keys and node tokens, list nodes and
 * the pools' view of their engines.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { readJsonBody } from '../dispatch/read-json.ts';
import type { AppEnv } from '../config.ts';
import { adminAuth } from '../middleware/admin-auth.ts';
import { directory, modelPool, registry } from '../../objects/stubs.ts';

const MAX_ADMIN_BODY_BYTES = 16 * 1024;
const label = z.string().trim().min(1).max(128);

const CreateKeySchema = z.object({ name: label, tenant: label.default('default') });
const CreateNodeTokenSchema = z.object({ name: label });

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use('/admin/api/*', adminAuth());

adminRoutes.post('/admin/api/keys', async function createApiKey(c) {
  const { fields } = await readJsonBody(c.req.raw, CreateKeySchema, MAX_ADMIN_BODY_BYTES);
  return c.json(await directory(c.env).createApiKey(fields), 201);
});

adminRoutes.post('/admin/api/node-tokens', async function createNodeToken(c) {
  const { fields } = await readJsonBody(c.req.raw, CreateNodeTokenSchema, MAX_ADMIN_BODY_BYTES);
  return c.json(await directory(c.env).createNodeToken(fields), 201);
});

adminRoutes.get('/admin/api/nodes', async function listNodes(c) {
  return c.json({ object: 'list', data: await registry(c.env).listNodes() });
});

adminRoutes.get('/admin/api/pools/:model', async function showPool(c) {
  const pool = modelPool(c.env, c.req.param('model'));
  return c.json({ model: c.req.param('model'), engines: await pool.snapshot() });
});
