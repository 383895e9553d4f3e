/**
 * Sends one OpenAI call to an engine: pick a lease from the model's pool, try the engine,
 * fail over before the first byte (at most two more engines), then relay the response.
 * Every lease goes back to its pool exactly once, on every path.
 */
import type { CacheReport, LeaseOutcome, PickResult } from '../../objects/model-pool.ts';
import type { GatewayConfig } from '../config.ts';
import { ApiError, ERROR_SOURCE_HEADER } from '../../../src/openai/errors.ts';
import type { EngineLeases, NodeLease, PickRouting } from './engine-leases.ts';
import type { HeldLease } from './held-lease.ts';
import { relayBody } from './relay-stream.ts';
import { collectMeterRecord } from './meter-collect.ts';
import { answerInHand, relayNatively } from './native-relay.ts';
import { METERED_HEADER, type MeterRequest } from '../../../src/protocol/node-metering.ts';
import { attemptUpstream, type AttemptResult } from './upstream-attempt.ts';
import { clientFacingHeaders } from '../../../src/http/engine-headers.ts';
import { errorEvent as openAIErrorEvent } from '../../../src/sse/event-framer.ts';
import { CallLog, type CallEnding } from './call-log.ts';
import type { UsageMeter } from './usage-meter.ts';

const MAX_ATTEMPTS = 3;
/** Where the answer came from, `<node id>/<engine id>`, for whoever debugs a slow or odd answer. */
const SERVED_BY_HEADER = 'x-switchyard-engine';

export interface ForwardRequest {
  requestId: string;
  model: string;
  pathAndQuery: string;
  /** Bytes can be sent again to another engine; a stream cannot. */
  body: Uint8Array | ReadableStream<Uint8Array>;
  headers: Headers;
  stream: boolean;
  /** What the pool routes on: the session, and the prefix hashes computed from the body. */
  routing: PickRouting;
  /** The call's leases on the model's pool; the first may already be on its way. */
  leases: EngineLeases;
  clientSignal: AbortSignal;
  /** Turns a failure of the body stream itself (e.g. an upload over the cap) into the client's error. */
  bodyError?: () => ApiError | null;
  /** Reads what the answer cost. */
  meter: UsageMeter;
  /** Keeps work alive past the response (a natively piped body's ending, once the client has gone). */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Runs once when the call is over, on every path: the caller settles the key's reservation here. */
  onFinish: (ending: CallEnding) => void;
  /** Headers every answer carries (the key's rate-limit state). */
  answerHeaders: Record<string, string>;
  /** POST unless said otherwise (GET and DELETE on stored responses). */
  method?: string;
  /** A stream's error event in the shape of the route's clients (render-error.ts); OpenAI's when absent. */
  errorEvent?: (error: ApiError) => Uint8Array;
  /** The route family's own words for a refusal it knows better (a stored response's engine is gone). */
  refusalFor?: (picked: Extract<PickResult, { ok: false }>) => ApiError | undefined;
}

export async function forwardToEngine(config: GatewayConfig, request: ForwardRequest): Promise<Response> {
  const log = new CallLog(request.requestId, request.model, request.pathAndQuery, request.onFinish);
  try {
    return await forwardWithFailover(config, request, log);
  } catch (err) {
    const error = err instanceof ApiError ? err : null;
    log.finish(
      error?.status ?? 500,
      error?.code === 'client_closed_request' ? 'aborted' : 'failed',
      error?.code,
    );
    throw err;
  }
}

async function forwardWithFailover(
  config: GatewayConfig,
  request: ForwardRequest,
  log: CallLog,
): Promise<Response> {
  const replayable = request.body instanceof Uint8Array;
  const exclude: string[] = [];
  let lastFailure: Extract<AttemptResult, { kind: 'failed' }> | undefined;
  let lastEngine = '';

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (request.clientSignal.aborted) throw clientClosed();
    const { held, picked } = await request.leases.pick(request.routing, exclude);
    if (!picked.ok) {
      if (lastFailure) break;
      const refused = request.refusalFor?.(picked) ?? refusal(picked, request.model, request.routing.route);
      log.finish(refused.status, 'refused', refused.code);
      throw refused;
    }
    const lease = picked.lease;
    log.attempted(lease.engineKey);
    const meter: MeterRequest = {
      callId: crypto.randomUUID(),
      stripUsageChunk: request.meter.stripUsageChunk,
      idleMs: config.idleTimeoutMs,
    };
    const result = await attemptUpstream({
      lease,
      method: request.method,
      pathAndQuery: request.pathAndQuery,
      body: request.body,
      headers: request.headers,
      expectEarlyHeaders: request.stream,
      connectTimeoutMs: config.connectTimeoutMs,
      firstByteTimeoutMs: config.firstByteTimeoutMs,
      clientSignal: request.clientSignal,
      meter,
    });
    const bodyError = request.bodyError?.();
    if (bodyError) {
      // The upload was cut at the cap; whatever the engine made of the truncated body is moot.
      if (result.kind === 'response') result.abort.abort(bodyError);
      held.release('aborted');
      throw bodyError;
    }
    if (result.kind === 'response') return relayResponse(result, held, config, log, request, lease, meter);
    if (result.kind === 'client_gone') {
      held.release('aborted');
      throw clientClosed();
    }
    held.release('failed');
    exclude.push(lease.engineKey);
    lastFailure = result;
    lastEngine = lease.engineKey;
    if (!replayable) break;
  }
  return failureResponse(lastFailure!, log, request, lastEngine);
}

function relayResponse(
  result: Extract<AttemptResult, { kind: 'response' }>,
  held: HeldLease,
  config: GatewayConfig,
  log: CallLog,
  request: ForwardRequest,
  lease: NodeLease,
  meter: MeterRequest,
): Response {
  const { response, reader, firstChunk, abort } = result;
  const headers = clientFacingHeaders(response.headers);
  headers.set(SERVED_BY_HEADER, lease.engineKey);
  const isEventStream = (headers.get('content-type') ?? '').startsWith('text/event-stream');
  if (isEventStream) {
    headers.delete('content-length');
    // The gateway's own, whatever the engine said: no cache or proxy may hold an event stream.
    headers.set('cache-control', 'no-cache');
  }
  if (response.status >= 400) headers.set(ERROR_SOURCE_HEADER, 'upstream');
  for (const [name, value] of Object.entries(request.answerHeaders)) headers.set(name, value);
  const meteredAtNode = response.headers.get(METERED_HEADER) === '1';
  request.meter.answerStarted(meteredAtNode ? null : (headers.get('content-type') ?? ''));
  if (!reader) {
    held.release('ok', cacheReport(request.meter));
    log.finish(response.status, 'ok', null, request.meter.result());
    return new Response(null, { status: response.status, headers });
  }
  const errorEvent = request.errorEvent ?? ((error: ApiError) => openAIErrorEvent(error.toBody()));
  const onFinish = (outcome: LeaseOutcome) => {
    held.release(outcome, outcome === 'ok' ? cacheReport(request.meter) : undefined);
    log.finish(response.status, outcome, null, request.meter.result());
  };
  if (meteredAtNode) {
    const whole = answerInHand({ response, reader, firstChunk, isEventStream, meter: request.meter });
    if (whole) {
      onFinish('ok');
      return new Response(whole, { status: response.status, headers });
    }
    const body = relayNatively({
      response,
      reader,
      firstChunk,
      isEventStream,
      collect: () => collectMeterRecord(lease, meter.callId),
      idleTimeoutMs: config.idleTimeoutMs,
      clientSignal: request.clientSignal,
      meter: request.meter,
      errorEvent,
      waitUntil: request.waitUntil,
      onFinish,
    });
    return new Response(body, { status: response.status, headers });
  }
  const body = relayBody({
    reader,
    firstChunk,
    isEventStream,
    idleTimeoutMs: config.idleTimeoutMs,
    abortUpstream: (reason) => abort.abort(new Error(reason)),
    meter: request.meter,
    errorEvent,
    onFinish,
  });
  return new Response(body, { status: response.status, headers });
}

/** After every try failed: the engine's own 5xx verbatim when there is one, else the gateway's error. */
function failureResponse(
  failure: Extract<AttemptResult, { kind: 'failed' }>,
  log: CallLog,
  request: ForwardRequest,
  engineKey: string,
): Response {
  if (failure.upstream) {
    log.finish(failure.upstream.status, 'failed', failure.error.code);
    const headers = clientFacingHeaders(failure.upstream.headers);
    headers.set(SERVED_BY_HEADER, engineKey);
    headers.set(ERROR_SOURCE_HEADER, 'upstream');
    for (const [name, value] of Object.entries(request.answerHeaders)) headers.set(name, value);
    return new Response(failure.upstream.body, { status: failure.upstream.status, headers });
  }
  throw failure.error;
}

/** What nobody will read: the client has gone. */
export function clientClosed(): ApiError {
  return new ApiError(400, 'The client closed the request.', { code: 'client_closed_request' });
}

export function refusal(picked: Extract<PickResult, { ok: false }>, model: string, route?: string): ApiError {
  if (picked.reason === 'route_not_served') {
    return new ApiError(
      404,
      `The model \`${model}\` is served here, but none of its engines serves ${route}.`,
      {
        param: 'model',
        code: 'route_not_served',
      },
    );
  }
  if (picked.reason === 'no_trusted_engine') {
    return new ApiError(403, `No engine serving \`${model}\` belongs to a node owner this tenant trusts.`, {
      param: 'model',
      code: 'no_trusted_engine',
    });
  }
  if (picked.reason === 'unknown_model') {
    return new ApiError(404, `The model \`${model}\` does not exist or is not served here.`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
  if (picked.reason === 'session_engine_gone') {
    return new ApiError(410, 'The engine that held this interactive session is gone; start a new session.', {
      param: 'session_id',
      code: 'session_engine_gone',
    });
  }
  if (picked.reason === 'session_engine_unavailable') {
    return new ApiError(503, "This interactive session's engine cannot take a request right now.", {
      param: 'session_id',
      code: 'session_engine_unavailable',
      headers: { 'retry-after': String(picked.retryAfterSeconds) },
    });
  }
  if (picked.reason === 'engines_saturated') {
    return new ApiError(429, `Every engine serving \`${model}\` is at capacity; retry shortly.`, {
      code: 'model_overloaded',
      headers: { 'retry-after': String(picked.retryAfterSeconds) },
    });
  }
  return new ApiError(503, `No engine serving \`${model}\` can take a request right now.`, {
    code: 'no_available_engine',
    headers: { 'retry-after': String(picked.retryAfterSeconds) },
  });
}

/**
 * What a successful answer's usage says of its prompt's cached share: the pool's prefix index
 * learns the engine's cache size from it.
 */
function cacheReport(meter: UsageMeter): CacheReport | undefined {
  const usage = meter.result().usage;
  return usage ? { promptTokens: usage.promptTokens, cachedTokens: usage.cachedTokens } : undefined;
}
