/**
 * The one error type for everything the gateway itself says, shaped like OpenAI's
 * `{"error":{"message","type","param","code"}}`. Handlers throw it; `renderError` in
 * `onError` turns it (or anything unexpected) into the response.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'service_unavailable_error'
  | 'upstream_error'
  | 'server_error';

export interface OpenAIErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/** Marks who produced an error response: the gateway itself or the engine behind it. */
export const ERROR_SOURCE_HEADER = 'x-switchyard-error-source';

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    options: {
      type?: ErrorType;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.type = options.type ?? defaultType(status);
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'service_unavailable_error';
  if (status === 502 || status === 504) return 'upstream_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function renderError(err: unknown, c: Context): Response {
  const apiError =
    err instanceof ApiError
      ? err
      : new ApiError(500, 'The gateway failed to handle this request.', {
          code: 'internal_error',
          cause: err,
        });
  if (apiError.status >= 500 && !(err instanceof ApiError)) {
    console.error('unhandled error', c.req.method, c.req.path, err);
  }
  const headers: Record<string, string> = { ...apiError.headers, [ERROR_SOURCE_HEADER]: 'gateway' };
  const requestId = c.get('requestId') as string | undefined;
  if (requestId) headers['x-request-id'] = requestId;
  return c.json(apiError.toBody(), apiError.status, headers);
}
