/**
 * The step every route family shares once the key's object has admitted a call: forward it to an
 * engine of its model (dispatch/forward.ts), and settle the key's reservation when it is over.
 * The OpenAI table (routes/openai.ts) does the same inline; the Responses and Messages families
 * use this, with their own body handling, refusals and error shape.
 */
import type { Context } from 'hono';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { streamErrorEvent } from '../render-error.ts';
import { settleCall, type Admitted } from './admit.ts';
import type { CallEnding } from './call-log.ts';
import { EngineLeases, type PickRouting } from './engine-leases.ts';
import { forwardToEngine, type ForwardRequest } from './forward.ts';
import { UsageMeter } from './usage-meter.ts';

/** Request headers an engine may use; the client's credentials never leave the gateway. */
const FORWARDED_HEADERS = ['content-type', 'accept', 'x-request-id'];

export interface AdmittedCall {
  model: string;
  /** POST unless said otherwise. */
  method?: string;
  body: Uint8Array;
  stream: boolean;
  routing: ForwardRequest['routing'];
  /** The call's leases (`leasesFor`). */
  leases: EngineLeases;
  /** What a stream cut short is charged for its prompt. */
  promptEstimate: number;
  /** False for calls that generate nothing (retrieving a stored response, counting tokens). */
  charged: boolean;
  /** More request headers the engine reads (`anthropic-version`, `anthropic-beta`). */
  extraHeaders?: readonly string[];
  refusalFor?: ForwardRequest['refusalFor'];
  /** Runs once when the call is over, before the reservation is settled. */
  onEnd?: (ending: CallEnding) => void;
}

const NOTHING_USED = { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };

/**
 * The leases of a call on `model`. With `routing`, its first pick is sent at once, to overlap
 * with the key's admission; pass them to `admitCall` so a refusal gives that lease back.
 */
export function leasesFor(
  c: Context<AppEnv>,
  call: { model: string; keyId: string },
  routing?: PickRouting,
): EngineLeases {
  const leases = new EngineLeases(c.env, c.executionCtx, {
    ...call,
    clientSignal: c.req.raw.signal,
    requestId: c.get('requestId'),
  });
  if (routing) leases.prefetch(routing);
  return leases;
}

export function forwardAdmitted(
  c: Context<AppEnv>,
  admitted: Admitted,
  call: AdmittedCall,
): Promise<Response> {
  c.set('apiKey', { keyId: admitted.keyId, tenantId: admitted.tenantId });
  // Errors from here on carry the key's rate-limit state too.
  for (const [name, value] of Object.entries(admitted.headers)) c.header(name, value);
  const url = new URL(c.req.url);
  return forwardToEngine(gatewayConfig(c.env), {
    requestId: c.get('requestId'),
    model: call.model,
    method: call.method,
    pathAndQuery: url.pathname + url.search,
    body: call.body,
    headers: forwardedHeaders(c, call.extraHeaders ?? []),
    stream: call.stream,
    routing: call.routing,
    leases: call.leases,
    clientSignal: c.req.raw.signal,
    meter: new UsageMeter(call.promptEstimate, false),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    answerHeaders: admitted.headers,
    errorEvent: streamErrorEvent(url.pathname),
    refusalFor: call.refusalFor,
    onFinish: (ending) => {
      call.onEnd?.(ending);
      const used = call.charged && ending.status < 400;
      c.executionCtx.waitUntil(
        settleCall(c.env, admitted, {
          model: call.model,
          // A stream the engine broke off after a 200 is the engine's failure.
          status: ending.outcome === 'failed' && ending.status < 400 ? 502 : ending.status,
          aborted: ending.outcome === 'aborted',
          usage: call.charged ? ending.metered.usage : null,
          fallback: used ? ending.metered.fallback : NOTHING_USED,
          ttftMs: ending.metered.ttftMs,
          durationMs: ending.durationMs,
        }),
      );
    },
  });
}

/** Closes the reservation of a call refused after admission, before any engine saw it. */
export function settleUnforwarded(
  c: Context<AppEnv>,
  admitted: Admitted,
  model: string,
  status: number,
): void {
  c.executionCtx.waitUntil(
    settleCall(c.env, admitted, {
      model,
      status,
      aborted: false,
      usage: null,
      fallback: NOTHING_USED,
      ttftMs: null,
      durationMs: 0,
    }),
  );
}

function forwardedHeaders(c: Context<AppEnv>, extra: readonly string[]): Headers {
  const headers = new Headers();
  for (const name of [...FORWARDED_HEADERS, ...extra]) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  headers.set('x-request-id', c.get('requestId'));
  return headers;
}
