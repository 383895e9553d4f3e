/**
 * Mounts every forwarded OpenAI route: read and validate the body, then hand it to the
 * dispatcher. API keys are checked before any body is read.
 */
import { Hono } from 'hono';
import { forwardToEngine, type ForwardRequest } from '../dispatch/forward.ts';
import { readMultipartModel } from '../dispatch/multipart-body.ts';
import { readJsonBody } from '../dispatch/read-json.ts';
import type { RoutedRequestBody } from '../../../src/openai/request-schemas.ts';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKeyAuth } from '../middleware/api-key-auth.ts';
import { OPENAI_ROUTES, type RouteSpec } from './openai-routes.ts';

/** Request headers an engine may use; everything else (the client's API key first) stays here. */
const FORWARDED_HEADERS = ['content-type', 'accept', 'x-request-id'];

export const openaiRoutes = new Hono<AppEnv>();

for (const route of OPENAI_ROUTES) {
  openaiRoutes.on(['POST'], route.path, apiKeyAuth(), async function forwardOpenAICall(c) {
    const config = gatewayConfig(c.env);
    const url = new URL(c.req.url);
    const headers = new Headers();
    for (const name of FORWARDED_HEADERS) {
      const value = c.req.header(name);
      if (value) headers.set(name, value);
    }
    headers.set('x-request-id', c.get('requestId'));
    const common = {
      requestId: c.get('requestId'),
      pathAndQuery: url.pathname + url.search,
      headers,
      clientSignal: c.req.raw.signal,
    };
    const forward = await readForRoute(route, c.req.raw, config.maxJsonBodyBytes, config.maxUploadBytes);
    const affinity = c.req.header('x-session-id') ?? forward.affinity;
    return forwardToEngine(c.env, c.executionCtx, config, {
      ...common,
      ...forward.request,
      affinityKey: affinity ? `${c.get('apiKey').tenant}:${affinity}` : undefined,
    });
  });
  openaiRoutes.all(route.path, function methodNotAllowed() {
    throw new ApiError(405, `${route.path} takes POST.`, {
      code: 'method_not_allowed',
      headers: { allow: 'POST' },
    });
  });
}

type BodyPart = Pick<ForwardRequest, 'model' | 'body' | 'stream' | 'bodyError'>;

async function readForRoute(
  route: RouteSpec,
  request: Request,
  maxJsonBytes: number,
  maxUploadBytes: number,
): Promise<{ request: BodyPart; affinity?: string }> {
  if (route.body === 'multipart') {
    const upload = await readMultipartModel(request, maxUploadBytes);
    return {
      request: { model: upload.model, body: upload.stream, stream: false, bodyError: upload.overLimit },
    };
  }
  const { bytes, fields } = await readJsonBody(request, route.schema, maxJsonBytes);
  const body = fields as RoutedRequestBody;
  const session = route.sessionField ? body.session_id : undefined;
  return {
    request: { model: body.model, body: bytes, stream: body.stream === true },
    affinity: session !== undefined ? `session:${session}` : body.user ? `user:${body.user}` : undefined,
  };
}
