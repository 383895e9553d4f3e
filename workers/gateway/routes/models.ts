/**
 * `GET /v1/models`: the models that healthy engines serve right now and this key may use, in
 * OpenAI's list shape, with what clients use beyond it in fields the OpenAI schema leaves open:
 * `owned_by` (who runs the engines), `max_model_len` (vLLM's name, when the engines report it)
 * and `capabilities.routes`, the routes its engines serve (absent when an engine did not say).
 */
import { Hono, type Context } from 'hono';
import { modelAllowed } from '../../../src/keys/model-patterns.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import type { ServedModel } from '../../objects/node-registry.ts';
import { registry } from '../../objects/stubs.ts';
import type { AppEnv } from '../config.ts';
import { apiKeyAuth } from '../middleware/api-key-auth.ts';

export const modelRoutes = new Hono<AppEnv>();

async function visibleModels(c: Context<AppEnv>) {
  const allowed = c.get('allowedModels');
  return (await registry(c.env).listModels()).filter((m) => modelAllowed(allowed, m.id));
}

modelRoutes.get('/v1/models', apiKeyAuth(), async function listServedModels(c) {
  const models = await visibleModels(c);
  return c.json({
    object: 'list',
    data: models.map(modelCard),
  });
});

modelRoutes.get('/v1/models/:model', apiKeyAuth(), async function retrieveServedModel(c) {
  const wanted = c.req.param('model');
  const model = (await visibleModels(c)).find((m) => m.id === wanted);
  if (!model) {
    throw new ApiError(404, `The model \`${wanted}\` does not exist or is not served here.`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
  return c.json(modelCard(model));
});

function modelCard(model: ServedModel) {
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: model.ownedBy,
    ...(model.maxModelLen === undefined ? {} : { max_model_len: model.maxModelLen }),
    ...(model.routes === undefined ? {} : { capabilities: { routes: model.routes } }),
  };
}
