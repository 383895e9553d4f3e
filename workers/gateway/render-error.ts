/**
 * The gateway's one `onError`: an `ApiError` becomes its OpenAI-shaped response, marked as the
 * gateway's own; anything else is a bug, logged with the request id and answered 500.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError, ERROR_SOURCE_HEADER } from '../../src/openai/errors.ts';
import type { AppEnv } from './config.ts';

export function renderError(err: unknown, c: Context<AppEnv>): Response {
  const apiError =
    err instanceof ApiError
      ? err
      : new ApiError(500, 'The gateway failed to handle this request.', {
          code: 'internal_error',
          cause: err,
        });
  if (!(err instanceof ApiError)) {
    console.error(`[${c.get('requestId')}] unhandled error on ${c.req.method} ${c.req.path}`, err);
  }
  const headers: Record<string, string> = { ...apiError.headers, [ERROR_SOURCE_HEADER]: 'gateway' };
  return c.json(apiError.toBody(), apiError.status as ContentfulStatusCode, headers);
}
