/**
 * A pool's routing policy, set by the operator per model: `affinity` (the default, see
 * docs/routing.md) or one of the baselines. `null` returns the pool to the gateway's
 * `ROUTING_POLICY`. The setting lives in the pool's own storage and applies from its next pick.
 */
import { Hono } from 'hono';
import * as z from '../../../../src/zod-mini.ts';
import { ROUTING_POLICIES } from '../../../../src/routing/policies.ts';
import { ApiError } from '../../../../src/openai/errors.ts';
import type { AppEnv } from '../../config.ts';
import { readJsonBody } from '../../dispatch/read-json.ts';
import { operatorOnly } from '../../middleware/admin-auth.ts';
import { modelPool } from '../../../objects/stubs.ts';
import { MAX_ADMIN_BODY_BYTES } from './schemas.ts';
import { audit } from './scope.ts';

export const SetPoolPolicySchema = z.strictObject({ policy: z.nullable(z.enum(ROUTING_POLICIES)) });

export const poolRoutes = new Hono<AppEnv>();

poolRoutes.use('/pools/:model/policy', operatorOnly());

poolRoutes.get('/pools/:model/policy', async function showPoolPolicy(c) {
  const model = modelParam(c.req.param('model'));
  return c.json({ model, ...(await modelPool(c.env, model).routingPolicy()) });
});

poolRoutes.put('/pools/:model/policy', async function setPoolPolicy(c) {
  const model = modelParam(c.req.param('model'));
  const { fields } = await readJsonBody(c.req.raw, SetPoolPolicySchema, MAX_ADMIN_BODY_BYTES);
  const pool = modelPool(c.env, model);
  await pool.setPolicy(fields.policy);
  await audit(c, { tenantId: null, action: 'pool.policy', target: model, details: fields });
  return c.json({ model, ...(await pool.routingPolicy()) });
});

function modelParam(model: string): string {
  if (model.length > 256)
    throw new ApiError(400, 'Model names are at most 256 characters.', { param: 'model' });
  return model;
}
