/** The agent's own refusals, shaped like OpenAI's errors so any client or SDK can read them. */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  502: 'server_error',
  503: 'server_error',
};

export function sendOpenAIError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = JSON.stringify({
    error: { message, type: TYPE_BY_STATUS[status] ?? 'server_error', param: null, code },
  });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
