/**
 * The gateway's one `onError`: an `ApiError` becomes its response, marked as the gateway's own;
 * anything else is a bug, logged with the request id and answered 500. A body the refusal came
 * before is read to its end first, so the client gets to read the answer.
 *
 * The shape is the one the route family's clients parse: OpenAI's `{"error":{…}}` everywhere,
 * except Anthropic's `{"type":"error","error":{"type","message"}}` on `/v1/messages*`. Errors
 * that happen inside a relayed stream take the same decision (`streamErrorEvent`).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { anthropicErrorBody, anthropicErrorEvent } from '../../src/anthropic/errors.ts';
import { ApiError, ERROR_SOURCE_HEADER } from '../../src/openai/errors.ts';
import { errorEvent } from '../../src/sse/event-framer.ts';
import type { AppEnv } from './config.ts';
import { discardUnreadBody } from './dispatch/client-body.ts';

export type ErrorFamily = 'openai' | 'anthropic';

/** Whose clients call `path`, and so which error shape they read. */
export function errorFamilyOf(path: string): ErrorFamily {
  return path === '/v1/messages' || path.startsWith('/v1/messages/') ? 'anthropic' : 'openai';
}

export async function renderError(err: unknown, c: Context<AppEnv>): Promise<Response> {
  const apiError =
    err instanceof ApiError
      ? err
      : new ApiError(500, 'The gateway failed to handle this request.', {
          code: 'internal_error',
          cause: err,
        });
  if (apiError.code === 'client_closed_request') {
    console.warn(`[${c.get('requestId')}] ${c.req.method} ${c.req.path}: ${apiError.message}`);
  } else if (!(err instanceof ApiError)) {
    console.error(`[${c.get('requestId')}] unhandled error on ${c.req.method} ${c.req.path}`, err);
  }
  await discardUnreadBody(c.req.raw);
  const headers: Record<string, string> = { ...apiError.headers, [ERROR_SOURCE_HEADER]: 'gateway' };
  const body =
    errorFamilyOf(c.req.path) === 'anthropic'
      ? anthropicErrorBody(apiError.status, apiError.message)
      : apiError.toBody();
  return c.json(body, apiError.status as ContentfulStatusCode, headers);
}

/** How a relay on `path` tells its client, inside the stream, that the stream broke. */
export function streamErrorEvent(path: string): (error: ApiError) => Uint8Array {
  return errorFamilyOf(path) === 'anthropic'
    ? (error) => anthropicErrorEvent(error.status, error.message)
    : (error) => errorEvent(error.toBody());
}
