/** The operator's view of the fleet: node tokens, nodes (and evicting one), model pools. */
import { Hono } from 'hono';
import { ApiError } from '../../../../src/openai/errors.ts';
import { readJsonBody } from '../../dispatch/read-json.ts';
import type { AppEnv } from '../../config.ts';
import { operatorOnly } from '../../middleware/admin-auth.ts';
import { directory, modelPool, registry } from '../../../objects/stubs.ts';
import { CreateNodeTokenSchema, MAX_ADMIN_BODY_BYTES } from './schemas.ts';
import { audit, notFound } from './scope.ts';

export const fleetRoutes = new Hono<AppEnv>();

fleetRoutes.use('/node-tokens', operatorOnly());
fleetRoutes.use('/node-tokens/*', operatorOnly());
fleetRoutes.use('/nodes', operatorOnly());
fleetRoutes.use('/nodes/*', operatorOnly());
fleetRoutes.use('/pools/*', operatorOnly());

fleetRoutes.post('/node-tokens', async function createNodeToken(c) {
  const { fields } = await readJsonBody(c.req.raw, CreateNodeTokenSchema, MAX_ADMIN_BODY_BYTES);
  const { name, ...scope } = fields;
  const { summary, token } = await directory(c.env).createNodeToken({ name, scope });
  await audit(c, { tenantId: null, action: 'node_token.create', target: summary.id, details: fields });
  return c.json({ ...summary, token }, 201);
});

fleetRoutes.get('/node-tokens', async function listNodeTokens(c) {
  return c.json({ object: 'list', data: await directory(c.env).listNodeTokens() });
});

fleetRoutes.delete('/node-tokens/:tokenId', async function revokeNodeToken(c) {
  const tokenId = c.req.param('tokenId');
  if (!(await directory(c.env).revokeNodeToken(tokenId))) throw notFound('node token', tokenId);
  await audit(c, { tenantId: null, action: 'node_token.revoke', target: tokenId });
  return c.json({ id: tokenId, object: 'node_token', revoked: true });
});

fleetRoutes.get('/nodes', async function listNodes(c) {
  return c.json({ object: 'list', data: await registry(c.env).listNodes() });
});

fleetRoutes.delete('/nodes/:nodeId', async function evictNode(c) {
  const nodeId = c.req.param('nodeId');
  if (!(await registry(c.env).evict(nodeId))) throw notFound('node', nodeId);
  await audit(c, { tenantId: null, action: 'node.evict', target: nodeId });
  return c.json({ id: nodeId, object: 'node', evicted: true });
});

fleetRoutes.get('/pools/:model', async function showPool(c) {
  const model = c.req.param('model');
  if (model.length > 256)
    throw new ApiError(400, 'Model names are at most 256 characters.', { param: 'model' });
  const engines = await modelPool(c.env, model).snapshot();
  if (engines.length === 0) throw notFound('model', model);
  return c.json({ model, engines });
});
