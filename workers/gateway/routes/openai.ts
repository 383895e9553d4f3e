/**
 * Mounts every forwarded OpenAI route: read and validate the body, admit the call against the
 * key (one RPC: key, model, limits), forward it, and settle what it cost once it is over.
 */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../src/openai/errors.ts';
import type { RoutedRequestBody } from '../../../src/openai/request-schemas.ts';
import { requestPrefixHashes } from '../../../src/routing/prefix-blocks.ts';
import { estimatePromptTokens, reserveTokens } from '../../../src/usage/estimate.ts';
import { asksForStreamUsage, withStreamUsage } from '../../../src/usage/request-rewrite.ts';
import { gatewayConfig, type AppEnv, type GatewayConfig } from '../config.ts';
import { admitCall, presentedApiKey, settleCall } from '../dispatch/admit.ts';
import { EngineLeases } from '../dispatch/engine-leases.ts';
import { forwardToEngine, type ForwardRequest } from '../dispatch/forward.ts';
import { readMultipartModel } from '../dispatch/multipart-body.ts';
import { readJsonBody } from '../dispatch/read-json.ts';
import { UsageMeter } from '../dispatch/usage-meter.ts';
import { OPENAI_ROUTES, type RouteSpec } from './openai-routes.ts';

/** Request headers an engine may use; everything else (the client's API key first) stays here. */
const FORWARDED_HEADERS = ['content-type', 'accept', 'x-request-id'];

export const openaiRoutes = new Hono<AppEnv>();

for (const route of OPENAI_ROUTES) {
  openaiRoutes.on(['POST'], route.path, async function forwardOpenAICall(c) {
    const key = await presentedApiKey(c.env, c.req.header('authorization'));
    const config = gatewayConfig(c.env);
    const read = await readForRoute(route, c.req.raw, config);
    const model = read.request.model;
    // LMDeploy's session_id names KV state on one engine, so no header may override it.
    const session = read.strictSession ? read.session : (c.req.header('x-session-id') ?? read.session);
    const routing = {
      // Sessions are the key's own: no other key's session id can reach them.
      affinityKey: session ? `${key.id}:${session}` : undefined,
      strictSession: read.strictSession,
      prefixHashes: read.prefixHashes,
      route: `POST ${route.path}`,
    };
    const clientSignal = c.req.raw.signal;
    const leases = new EngineLeases(c.env, c.executionCtx, {
      model,
      keyId: key.id,
      clientSignal,
      requestId: c.get('requestId'),
    });
    leases.prefetch(routing);
    const admitted = await admitCall(
      c.env,
      c.executionCtx,
      key,
      { model, tokens: read.reserve, capped: read.capped },
      leases,
    );
    c.set('apiKey', { keyId: admitted.keyId, tenantId: admitted.tenantId });
    // Errors from here on carry the key's rate-limit state too.
    for (const [name, value] of Object.entries(admitted.headers)) c.header(name, value);
    const url = new URL(c.req.url);
    return forwardToEngine(config, {
      ...read.request,
      requestId: c.get('requestId'),
      pathAndQuery: url.pathname + url.search,
      headers: forwardedHeaders(c),
      clientSignal,
      routing,
      leases,
      meter: new UsageMeter(read.promptEstimate, read.stripUsageChunk),
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      answerHeaders: admitted.headers,
      onFinish: (ending) =>
        c.executionCtx.waitUntil(
          settleCall(c.env, admitted, {
            model,
            // A stream the engine broke off after a 200 is the engine's failure.
            status: ending.outcome === 'failed' && ending.status < 400 ? 502 : ending.status,
            aborted: ending.outcome === 'aborted',
            usage: ending.metered.usage,
            // An engine that refused (4xx) or failed before answering used nothing.
            fallback: ending.status < 400 ? ending.metered.fallback : NOTHING_USED,
            ttftMs: ending.metered.ttftMs,
            durationMs: ending.durationMs,
          }),
        ),
    });
  });
  openaiRoutes.all(route.path, function methodNotAllowed() {
    throw new ApiError(405, `${route.path} takes POST.`, {
      code: 'method_not_allowed',
      headers: { allow: 'POST' },
    });
  });
}

const NOTHING_USED = { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };

function forwardedHeaders(c: Context<AppEnv>): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  headers.set('x-request-id', c.get('requestId'));
  return headers;
}

type BodyPart = Pick<ForwardRequest, 'model' | 'body' | 'stream' | 'bodyError'>;

interface RouteRead {
  request: BodyPart;
  session?: string;
  /** LMDeploy's interactive session: it must stay on its engine. */
  strictSession: boolean;
  /** For prefix affinity: hashes of the conversation's blocks, never its text. */
  prefixHashes?: number[];
  /** Tokens to reserve at admission. */
  reserve: number;
  /** The body names its completion cap; else `reserve` holds the default. */
  capped: boolean;
  promptEstimate: number;
  /** The gateway asked the engine for stream usage the client did not ask for. */
  stripUsageChunk: boolean;
}

async function readForRoute(route: RouteSpec, request: Request, config: GatewayConfig): Promise<RouteRead> {
  if (route.body === 'multipart') {
    const upload = await readMultipartModel(request, config.maxUploadBytes);
    return {
      request: { model: upload.model, body: upload.stream, stream: false, bodyError: upload.overLimit },
      strictSession: false,
      reserve: 0,
      capped: true,
      promptEstimate: 0,
      stripUsageChunk: false,
    };
  }
  const { bytes, fields } = await readJsonBody(request, route.schema, config.maxJsonBodyBytes);
  const body = fields as RoutedRequestBody;
  const session = route.sessionField ? body.session_id : undefined;
  const stream = body.stream === true;
  // Streams report usage only when asked; the gateway asks, and hides the answer if the client did not.
  const addUsage =
    route.generates === true && stream && !asksForStreamUsage(fields as Record<string, unknown>);
  const promptEstimate = estimatePromptTokens(bytes.byteLength);
  return {
    request: {
      model: body.model,
      body: addUsage ? withStreamUsage(bytes, fields as Record<string, unknown>) : bytes,
      stream,
    },
    session: session !== undefined ? `session:${session}` : body.user ? `user:${body.user}` : undefined,
    strictSession: session !== undefined,
    prefixHashes: route.generates ? requestPrefixHashes(fields as Record<string, unknown>) : undefined,
    reserve: route.generates
      ? reserveTokens(fields as Record<string, unknown>, bytes.byteLength, config.defaultCompletionTokens)
      : promptEstimate,
    capped: !route.generates || namesCompletionCap(fields as Record<string, unknown>),
    promptEstimate,
    stripUsageChunk: addUsage,
  };
}

function namesCompletionCap(body: Record<string, unknown>): boolean {
  return ['max_completion_tokens', 'max_tokens', 'max_output_tokens'].some(
    (field) => typeof body[field] === 'number' && (body[field] as number) > 0,
  );
}
