/**
 * Anthropic's error shape, `{"type":"error","error":{"type","message"}}`, and the table from HTTP
 * status to its error `type`, for everything the gateway itself says on the Messages routes: the
 * Anthropic SDKs (and Claude Code) read `error.type`, and raise on an `event: error` in a stream.
 */

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}

/**
 * Anthropic's own statuses: 400, 401, 403, 404, 413, 429, 500, and 529 for an overload. The
 * gateway keeps its 503 (with retry-after) for "no engine can take it now" and names it
 * `overloaded_error`, which is what that means to an Anthropic client; other 5xx are `api_error`.
 */
export function anthropicErrorTypeForStatus(status: number): AnthropicErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export function anthropicErrorBody(status: number, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorTypeForStatus(status), message } };
}

/** The SSE event the Anthropic SDKs raise on, as the Messages API sends it mid-stream. */
export function anthropicErrorEvent(status: number, message: string): Uint8Array {
  return new TextEncoder().encode(
    `event: error\ndata: ${JSON.stringify(anthropicErrorBody(status, message))}\n\n`,
  );
}
