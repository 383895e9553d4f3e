/**
 * `GET /v1/realtime`: the realtime WebSocket (vLLM's streaming transcription), proxied end to end
 * to an engine that serves it (dispatch/websocket-proxy.ts). The model is named in the query
 * (`?model=`, as OpenAI's realtime clients do), since the upgrade has no body; the key comes as
 * `Authorization: Bearer`, or as the `openai-insecure-api-key.<key>` subprotocol browsers use
 * because they cannot set headers — that one is never passed on. The session is one call: it
 * holds one of the key's concurrent requests and one lease for as long as it is open.
 */
import { Hono } from 'hono';
import { ApiError } from '../../../src/openai/errors.ts';
import { MAX_MODEL_NAME_LENGTH } from '../../../src/openai/request-schemas.ts';
import { engineRoute } from '../../../src/protocol/engine-routes.ts';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { admitCall, presentedApiKey, settleCall } from '../dispatch/admit.ts';
import { EngineLeases } from '../dispatch/engine-leases.ts';
import { proxyWebSocket } from '../dispatch/websocket-proxy.ts';

const KEY_PROTOCOL_PREFIX = 'openai-insecure-api-key.';
const REALTIME = engineRoute('GET', '/v1/realtime');

export const realtimeRoutes = new Hono<AppEnv>();

realtimeRoutes.get('/v1/realtime', async function proxyRealtime(c) {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, '/v1/realtime is a WebSocket: connect with `Upgrade: websocket`.', {
      code: 'upgrade_required',
      headers: { upgrade: 'websocket' },
    });
  }
  const offered = (c.req.header('sec-websocket-protocol') ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter(Boolean);
  const keyProtocol = offered.find((protocol) => protocol.startsWith(KEY_PROTOCOL_PREFIX));
  const authorization =
    c.req.header('authorization') ??
    (keyProtocol ? `Bearer ${keyProtocol.slice(KEY_PROTOCOL_PREFIX.length)}` : undefined);
  const key = await presentedApiKey(c.env, authorization, { value: c.req.header('x-api-key') });
  const model = c.req.query('model');
  if (!model || model.length > MAX_MODEL_NAME_LENGTH) {
    throw new ApiError(400, 'Name the model in the query: /v1/realtime?model=<model>.', {
      param: 'model',
      code: model ? 'invalid_value' : 'missing_required_parameter',
    });
  }
  const leases = new EngineLeases(c.env, c.executionCtx, {
    model,
    keyId: key.id,
    // A socket outlives its upgrade request: it ends with the socket, not with that request.
    clientSignal: new AbortController().signal,
    requestId: c.get('requestId'),
  });
  leases.prefetch({ route: REALTIME });
  const admitted = await admitCall(c.env, c.executionCtx, key, { model, tokens: 0, capped: true }, leases);
  const url = new URL(c.req.url);
  return proxyWebSocket(gatewayConfig(c.env), {
    requestId: c.get('requestId'),
    model,
    route: REALTIME,
    pathAndQuery: url.pathname + url.search,
    protocols: offered.filter((protocol) => protocol !== keyProtocol),
    answerHeaders: admitted.headers,
    leases,
    onFinish: (ending) =>
      c.executionCtx.waitUntil(
        settleCall(c.env, admitted, {
          model,
          status: ending.status,
          aborted: ending.outcome === 'aborted',
          usage: ending.metered.usage,
          fallback: ending.metered.fallback,
          ttftMs: null,
          durationMs: ending.durationMs,
        }),
      ),
  });
});

realtimeRoutes.all('/v1/realtime', function methodNotAllowed() {
  throw new ApiError(405, '/v1/realtime takes GET (a WebSocket upgrade).', {
    code: 'method_not_allowed',
    headers: { allow: 'GET' },
  });
});
