/** `GET /v1/models`: the models that healthy engines serve right now, in OpenAI's list shape. */
import { Hono } from 'hono';
import type { AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKeyAuth } from '../middleware/api-key-auth.ts';
import { registry } from '../../objects/stubs.ts';

export const modelRoutes = new Hono<AppEnv>();

modelRoutes.get('/v1/models', apiKeyAuth(), async function listServedModels(c) {
  const models = await registry(c.env).listModels();
  return c.json({
    object: 'list',
    data: models.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'switchyard' })),
  });
});

modelRoutes.get('/v1/models/:model', apiKeyAuth(), async function retrieveServedModel(c) {
  const wanted = c.req.param('model');
  const model = (await registry(c.env).listModels()).find((m) => m.id === wanted);
  if (!model) {
    throw new ApiError(404, `The model \`${wanted}\` does not exist or is not served here.`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
  return c.json({ id: model.id, object: 'model', created: model.created, owned_by: 'switchyard' });
});
