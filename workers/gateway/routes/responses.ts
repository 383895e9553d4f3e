/**
 * The Responses API: `POST /v1/responses` (JSON or SSE), and the routes on a stored response —
 * `GET` / `DELETE /v1/responses/{id}`, `POST …/cancel`, `GET …/input_items`. A response lives in
 * the memory of the engine that created it, so the gateway remembers which engine that is
 * (dispatch/response-store.ts): the routes on an id, and any create naming a
 * `previous_response_id`, go to that engine or are refused with the reason — never elsewhere.
 */
import { Hono, type Context } from 'hono';
import * as z from '../../../src/zod-mini.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { MAX_MODEL_NAME_LENGTH } from '../../../src/openai/request-schemas.ts';
import { engineRoute } from '../../../src/protocol/engine-routes.ts';
import { requestPrefixHashes } from '../../../src/routing/prefix-blocks.ts';
import { estimatePromptTokens, reserveTokens } from '../../../src/usage/estimate.ts';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { admitCall, presentedApiKey } from '../dispatch/admit.ts';
import { forwardAdmitted, leasesFor, settleUnforwarded } from '../dispatch/admitted-call.ts';
import { readJsonBody } from '../dispatch/read-json.ts';
import {
  findStoredResponse,
  forgetStoredResponse,
  rememberCreatedResponse,
  storedEngineRefusal,
  unknownResponse,
} from '../dispatch/response-store.ts';
import { authenticatedApiKey } from '../middleware/api-key-auth.ts';

export const ResponseCreateSchema = z.looseObject({
  model: z.string().check(z.minLength(1), z.maxLength(MAX_MODEL_NAME_LENGTH)),
  input: z.optional(z.union([z.string(), z.array(z.unknown())])),
  instructions: z.nullish(z.string()),
  previous_response_id: z.nullish(z.string().check(z.minLength(1))),
  stream: z.nullish(z.boolean()),
  store: z.nullish(z.boolean()),
  max_output_tokens: z.nullish(z.int().check(z.positive())),
  prompt_cache_key: z.nullish(z.string()),
  user: z.nullish(z.string()),
});
export type ResponseCreate = z.infer<typeof ResponseCreateSchema>;

const CREATE = engineRoute('POST', '/v1/responses');

export const responseRoutes = new Hono<AppEnv>();

responseRoutes.post('/v1/responses', async function createResponse(c) {
  const config = gatewayConfig(c.env);
  const key = await presentedApiKey(c.env, c.req.header('authorization'));
  const { bytes, fields } = await readJsonBody(c.req.raw, ResponseCreateSchema, config.maxJsonBodyBytes);
  const previousId = fields.previous_response_id ?? undefined;
  const session = c.req.header('x-session-id') ?? fields.prompt_cache_key ?? fields.user ?? undefined;
  const freshRouting = {
    route: CREATE,
    affinityKey: session ? `${key.id}:${session}` : undefined,
    prefixHashes: promptPrefixHashes(fields),
  };
  // A continuation goes to the engine that stores its predecessor, known only once it is looked up.
  const leases = leasesFor(
    c,
    { model: fields.model, keyId: key.id },
    previousId === undefined ? freshRouting : undefined,
  );
  const [admitted, previous] = await Promise.all([
    admitCall(
      c.env,
      c.executionCtx,
      key,
      {
        model: fields.model,
        tokens: reserveTokens(
          { max_output_tokens: fields.max_output_tokens },
          bytes.byteLength,
          config.defaultCompletionTokens,
        ),
        capped: typeof fields.max_output_tokens === 'number',
      },
      leases,
    ),
    previousId === undefined ? null : findStoredResponse(c.env, previousId),
  ]);
  if (previousId !== undefined && previous?.tenantId !== admitted.tenantId) {
    settleUnforwarded(c, admitted, fields.model, 404);
    throw unknownResponse(previousId, 'previous_response_id');
  }
  if (previous && previous.model !== fields.model) {
    settleUnforwarded(c, admitted, fields.model, 400);
    throw new ApiError(
      400,
      `Response '${previous.responseId}' was created with the model \`${previous.model}\`; continue it with that model.`,
      { param: 'model', code: 'previous_response_model_mismatch' },
    );
  }
  const answer = await forwardAdmitted(c, admitted, {
    model: fields.model,
    body: bytes,
    stream: fields.stream === true,
    promptEstimate: estimatePromptTokens(bytes.byteLength),
    charged: true,
    // Continuing a stored response: its engine holds the conversation, so that engine or none.
    routing: previous ? { route: CREATE, pinnedEngine: previous.engineKey } : freshRouting,
    leases,
    refusalFor: previous ? storedEngineRefusal(previous, 'previous_response_id') : undefined,
  });
  if (fields.store === false) return answer;
  return rememberCreatedResponse(c.env, answer, { tenantId: admitted.tenantId, model: fields.model });
});

responseRoutes.get('/v1/responses/:id', (c) => forwardToStoredResponse(c, 'GET', ''));
responseRoutes.delete('/v1/responses/:id', (c) => forwardToStoredResponse(c, 'DELETE', ''));
responseRoutes.post('/v1/responses/:id/cancel', (c) => forwardToStoredResponse(c, 'POST', '/cancel'));
responseRoutes.get('/v1/responses/:id/input_items', (c) => forwardToStoredResponse(c, 'GET', '/input_items'));

for (const [path, allow] of [
  ['/v1/responses', 'POST'],
  ['/v1/responses/:id', 'GET, DELETE'],
  ['/v1/responses/:id/cancel', 'POST'],
  ['/v1/responses/:id/input_items', 'GET'],
] as const) {
  responseRoutes.all(path, function methodNotAllowed() {
    throw new ApiError(405, `${path} takes ${allow}.`, { code: 'method_not_allowed', headers: { allow } });
  });
}

/**
 * A call on a stored response: to the engine that stores it. The id is looked up before the
 * key is admitted (admission needs the response's model), and a key of another tenant hears
 * exactly what an unknown id gets.
 */
async function forwardToStoredResponse(
  c: Context<AppEnv>,
  method: 'GET' | 'DELETE' | 'POST',
  suffix: '' | '/cancel' | '/input_items',
): Promise<Response> {
  const key = await presentedApiKey(c.env, c.req.header('authorization'));
  const responseId = c.req.param('id')!;
  const stored = await findStoredResponse(c.env, responseId);
  if (!stored) {
    await authenticatedApiKey(c.env, key);
    throw unknownResponse(responseId);
  }
  const leases = leasesFor(c, { model: stored.model, keyId: key.id });
  const admitted = await admitCall(
    c.env,
    c.executionCtx,
    key,
    { model: stored.model, tokens: 0, capped: true },
    leases,
  );
  if (stored.tenantId !== admitted.tenantId) {
    settleUnforwarded(c, admitted, stored.model, 404);
    throw unknownResponse(responseId);
  }
  return forwardAdmitted(c, admitted, {
    model: stored.model,
    method,
    body: new Uint8Array(),
    // Retrieving a background response with ?stream=true replays its events.
    stream: c.req.query('stream') === 'true',
    promptEstimate: 0,
    // The stored response's usage was charged when it was made.
    charged: false,
    routing: { route: engineRoute(method, `/v1/responses/:id${suffix}`), pinnedEngine: stored.engineKey },
    leases,
    refusalFor: storedEngineRefusal(stored, null),
    onEnd: (ending) => {
      if (method === 'DELETE' && ending.status >= 200 && ending.status < 300) {
        c.executionCtx.waitUntil(forgetStoredResponse(c.env, responseId));
      }
    },
  });
}

/** The conversation's text as prefix affinity compares it: instructions, then the input items. */
function promptPrefixHashes(fields: ResponseCreate): number[] {
  const input =
    typeof fields.input === 'string' ? [{ role: 'user', content: fields.input }] : (fields.input ?? []);
  const instructions = fields.instructions ? [{ role: 'system', content: fields.instructions }] : [];
  return requestPrefixHashes({ messages: [...instructions, ...input], tools: fields.tools });
}
