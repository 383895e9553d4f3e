/**
 * Anthropic's Messages API, as vLLM, SGLang, LMDeploy and llama.cpp serve it for Claude Code and
 * the Anthropic SDKs: `POST /v1/messages` (JSON or SSE) and `POST /v1/messages/count_tokens`.
 * The key comes as `x-api-key` (with `anthropic-version`) or as a bearer token; what the gateway
 * itself says here is Anthropic-shaped (render-error.ts decides by path); only engines that serve
 * the route are picked.
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
import { forwardAdmitted, leasesFor } from '../dispatch/admitted-call.ts';
import { readJsonBody } from '../dispatch/read-json.ts';

const model = z.string().check(z.minLength(1), z.maxLength(MAX_MODEL_NAME_LENGTH));
const system = z.optional(z.unknown());
const messages = z.array(z.looseObject({ role: z.string() }));

export const MessagesSchema = z.looseObject({
  model,
  /** Required by Anthropic's API: the most the answer may take. */
  max_tokens: z.int().check(z.positive()),
  messages,
  system,
  stream: z.optional(z.boolean()),
  metadata: z.nullish(z.looseObject({ user_id: z.nullish(z.string()) })),
});

export const CountTokensSchema = z.looseObject({ model, messages, system });

/** Anthropic's request headers an engine may read; the key never leaves the gateway. */
const ANTHROPIC_HEADERS = ['anthropic-version', 'anthropic-beta'];

export const messageRoutes = new Hono<AppEnv>();

messageRoutes.post('/v1/messages', async function createMessage(c) {
  const config = gatewayConfig(c.env);
  const key = await anthropicClientKey(c);
  const { bytes, fields } = await readJsonBody(c.req.raw, MessagesSchema, config.maxJsonBodyBytes);
  const session = c.req.header('x-session-id') ?? fields.metadata?.user_id ?? undefined;
  const routing = {
    route: engineRoute('POST', '/v1/messages'),
    affinityKey: session ? `${key.id}:${session}` : undefined,
    prefixHashes: conversationPrefixHashes(fields),
  };
  const leases = leasesFor(c, { model: fields.model, keyId: key.id }, routing);
  const admitted = await admitCall(
    c.env,
    c.executionCtx,
    key,
    {
      model: fields.model,
      tokens: reserveTokens(fields, bytes.byteLength, config.defaultCompletionTokens),
      capped: true,
    },
    leases,
  );
  return forwardAdmitted(c, admitted, {
    model: fields.model,
    body: bytes,
    stream: fields.stream === true,
    promptEstimate: estimatePromptTokens(bytes.byteLength),
    charged: true,
    extraHeaders: ANTHROPIC_HEADERS,
    routing,
    leases,
  });
});

messageRoutes.post('/v1/messages/count_tokens', async function countTokens(c) {
  const config = gatewayConfig(c.env);
  const key = await anthropicClientKey(c);
  const { bytes, fields } = await readJsonBody(c.req.raw, CountTokensSchema, config.maxJsonBodyBytes);
  // Counting generates nothing and is answered by the engine's API server: it costs no tokens.
  const routing = { route: engineRoute('POST', '/v1/messages/count_tokens') };
  const leases = leasesFor(c, { model: fields.model, keyId: key.id }, routing);
  const admitted = await admitCall(
    c.env,
    c.executionCtx,
    key,
    { model: fields.model, tokens: 0, capped: true },
    leases,
  );
  return forwardAdmitted(c, admitted, {
    model: fields.model,
    body: bytes,
    stream: false,
    promptEstimate: 0,
    charged: false,
    extraHeaders: ANTHROPIC_HEADERS,
    routing,
    leases,
  });
});

for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
  messageRoutes.all(path, function methodNotAllowed() {
    throw new ApiError(405, `${path} takes POST.`, {
      code: 'method_not_allowed',
      headers: { allow: 'POST' },
    });
  });
}

/** Anthropic's SDKs send `x-api-key`; with an auth token, `Authorization: Bearer`. Either opens it. */
function anthropicClientKey(c: Context<AppEnv>) {
  return presentedApiKey(c.env, c.req.header('authorization'), { value: c.req.header('x-api-key') });
}

/** The system prompt, then the turns: what the engine's template renders first is compared first. */
function conversationPrefixHashes(fields: z.infer<typeof MessagesSchema>): number[] {
  const system = fields.system === undefined ? [] : [{ role: 'system', content: fields.system }];
  return requestPrefixHashes({ messages: [...system, ...fields.messages], tools: fields.tools });
}
