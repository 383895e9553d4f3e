/**
 * The gateway's one `onError`: an `ApiError` becomes its OpenAI-shaped response, marked as the
 * gateway's own; anything else is a bug, logged with the request id and answered 500. A body
 * the refusal came before is read to its end first, so the client gets to read the answer.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError, ERROR_SOURCE_HEADER } from '../../src/openai/errors.ts';
import type { AppEnv } from './config.ts';
import { discardUnreadBody } from './dispatch/client-body.ts';

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
  return c.json(apiError.toBody(), apiError.status as ContentfulStatusCode, headers);
}
